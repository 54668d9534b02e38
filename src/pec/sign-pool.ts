// RSA signatures (RSASSA-PKCS1-v1_5 with SHA-256, RFC 8017 §8.2) on worker threads, handed over in
// batches. node:crypto's `sign` with a callback runs each signature as a job of libuv's thread pool, and
// each job wakes a sleeping pool thread and then the event loop: on this project's virtual machines those
// two wake-ups cost the event loop ~0.1–0.25 ms per signature, as much as a third of the signature itself
// (perf: the time sits in the kernel's try_to_wake_up under pthread_cond_signal). Here the signatures
// asked for while a worker is busy wait and go to it together as one message, with one answer back: under
// load the wake-ups are shared by a whole batch, and a quiet service signs one at a time as before.
import type { KeyObject } from "node:crypto";
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";

// Plain CommonJS run with `eval`: the same text works from dist/ and from the sources under tsx.
const WORKER_SOURCE = `
const { parentPort } = require("node:worker_threads");
const { sign } = require("node:crypto");
const keys = new Map();
parentPort.on("message", (m) => {
  if (m.key) {
    keys.set(m.keyId, m.key);
    return;
  }
  const out = m.items.map(([keyId, data]) => {
    try {
      return sign("sha256", data, keys.get(keyId));
    } catch (err) {
      return String(err && err.message ? err.message : err);
    }
  });
  parentPort.postMessage(out);
});
`;

interface Request {
  keyId: number;
  data: Buffer;
  resolve: (signature: Buffer) => void;
  reject: (err: Error) => void;
}

class SigningThread {
  readonly worker: Worker;
  readonly keysSent = new Set<number>();
  inFlight: Request[] | null = null;
  dead = false;

  constructor(onDone: (t: SigningThread) => void) {
    this.worker = new Worker(WORKER_SOURCE, { eval: true });
    // Idle, it must not keep the process alive; with a batch in flight it does (see send).
    this.worker.unref();
    this.worker.on("message", (out: (Uint8Array | string)[]) => {
      const batch = this.inFlight ?? [];
      this.inFlight = null;
      this.worker.unref();
      batch.forEach((r, i) => {
        const s = out[i];
        if (s instanceof Uint8Array) r.resolve(Buffer.from(s.buffer, s.byteOffset, s.byteLength));
        else r.reject(new Error(`signing failed: ${s ?? "no answer"}`));
      });
      onDone(this);
    });
    const fail = (err: unknown) => {
      this.dead = true;
      const batch = this.inFlight ?? [];
      this.inFlight = null;
      for (const r of batch) r.reject(err instanceof Error ? err : new Error(String(err)));
      onDone(this);
    };
    this.worker.on("error", fail);
    this.worker.on("exit", (code) => fail(new Error(`signing thread exited (${code})`)));
  }

  send(batch: Request[], keys: Map<number, KeyObject>): void {
    for (const r of batch) {
      if (this.keysSent.has(r.keyId)) continue;
      // A KeyObject is cloned to the worker once and kept there by id (nodejs.org/api/crypto.html#class-keyobject).
      this.worker.postMessage({ keyId: r.keyId, key: keys.get(r.keyId) });
      this.keysSent.add(r.keyId);
    }
    this.inFlight = batch;
    this.worker.ref();
    this.worker.postMessage({ items: batch.map((r) => [r.keyId, r.data]) });
  }
}

export class SignPool {
  private readonly threads: SigningThread[] = [];
  private readonly waiting: Request[] = [];
  private readonly keyIds = new WeakMap<KeyObject, number>();
  private readonly keys = new Map<number, KeyObject>();
  private nextKeyId = 1;

  /** At most this many signatures run at once, leaving one core to the event loop. */
  constructor(private readonly size = Math.max(1, availableParallelism() - 1)) {}

  sign(data: Buffer, key: KeyObject): Promise<Buffer> {
    let keyId = this.keyIds.get(key);
    if (keyId === undefined) {
      keyId = this.nextKeyId++;
      this.keyIds.set(key, keyId);
      this.keys.set(keyId, key);
    }
    const id = keyId;
    return new Promise((resolve, reject) => {
      this.waiting.push({ keyId: id, data, resolve, reject });
      this.dispatch();
    });
  }

  /** Everything waiting goes, in one batch per idle thread; a busy pool collects the next batch. */
  private dispatch(): void {
    if (this.waiting.length === 0) return;
    for (let i = this.threads.length - 1; i >= 0; i--) if (this.threads[i]!.dead) this.threads.splice(i, 1);
    let idle = this.threads.filter((t) => t.inFlight === null);
    while (idle.length === 0 && this.threads.length < this.size) {
      const t = new SigningThread(() => this.dispatch());
      this.threads.push(t);
      idle = [t];
    }
    if (idle.length === 0) return;
    const per = Math.ceil(this.waiting.length / idle.length);
    for (const t of idle) {
      const batch = this.waiting.splice(0, per);
      if (batch.length === 0) break;
      t.send(batch, this.keys);
    }
  }

  /** Ends the threads (tests; a server's threads end with its process). */
  async close(): Promise<void> {
    await Promise.all(this.threads.map((t) => t.worker.terminate()));
    this.threads.length = 0;
  }
}
