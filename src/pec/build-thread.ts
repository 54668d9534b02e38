// The provider messages of an accepted submission, written and signed on a thread of their own. On the
// PEC service's event loop, building the acceptance, the envelope and the delivery receipt (MIME, QP,
// base64, daticert, the digests, the CMS) was about a fifth of its work, and each of the three signatures
// was a round trip to the signing threads; the event loop, which also runs SMTP, TLS and every commit,
// was what bound the service (docs/pec-service.md "Throughput"). Here one request carries all the
// messages of a submission and comes back with their signed bytes; requests made while the thread is
// busy go to it together as one batch, so under load its wake-ups are shared. Should the thread die,
// the messages in flight and any later ones are built on the calling thread: slower, never lost.
import type { Worker } from "node:worker_threads";
import { startModuleThread } from "../threads/module-thread.js";
import { asBuffer, type BuildJob, runBuildJob } from "./build-jobs.js";
import type { BuildInit, BuildReply, BuildRequest } from "./build-worker.js";
import type { BuildContext, BuiltPec } from "./builders.js";

const BACKLOG = 1;

interface Pending {
  request: BuildRequest;
  resolve: (built: BuiltPec[]) => void;
  reject: (err: Error) => void;
}

function errorOf(e: { name: string; message: string; code?: string }): Error {
  return Object.assign(new Error(e.message), e);
}

export class BuildThread {
  private worker: Worker | null = null;
  private failed: Error | null = null;
  /** sent to the thread, answered in the order sent */
  private inFlight: Pending[] = [];
  private waiting: Pending[] = [];
  private closing = false;

  /** `ctx`: the provider, key and randomness of this process; its clock is not used (see build). */
  constructor(
    private readonly ctx: BuildContext,
    private readonly warn: (message: string, err: Error) => void = () => {},
  ) {}

  /** Builds `jobs` as of `now`, in order. */
  build(now: Date, jobs: BuildJob[]): Promise<BuiltPec[]> {
    const request: BuildRequest = { now: now.getTime(), jobs };
    if (this.failed) return this.buildHere(request);
    return new Promise((resolve, reject) => {
      this.waiting.push({ request, resolve, reject });
      this.dispatch();
    });
  }

  /** Whether the thread is gone and messages are built on the calling thread. */
  get degraded(): boolean {
    return this.failed !== null;
  }

  private buildHere(r: BuildRequest): Promise<BuiltPec[]> {
    const at = new Date(r.now);
    const ctx: BuildContext = { ...this.ctx, now: () => at };
    return Promise.all(r.jobs.map((j) => runBuildJob(ctx, j)));
  }

  private start(): Worker {
    const w = startModuleThread(import.meta.url, "build-worker");
    const { signer, provider } = this.ctx;
    const init: BuildInit = {
      provider,
      key: signer.key,
      certificate: signer.certificate,
      chain: signer.chain,
    };
    w.postMessage({ init });
    w.on("message", (r: BuildReply) => {
      const p = this.inFlight.shift();
      if (this.inFlight.length === 0) w.unref();
      if (!p) return;
      if ("built" in r) {
        for (const b of r.built) b.raw = asBuffer(b.raw);
        p.resolve(r.built);
      } else p.reject(errorOf(r.error));
      this.dispatch();
    });
    const fail = (err: unknown) => {
      if (this.worker !== w) return;
      this.worker = null;
      this.failed = err instanceof Error ? err : new Error(String(err));
      if (!this.closing)
        this.warn("the build thread failed; messages are built on the event loop", this.failed);
      const orphans = [...this.inFlight, ...this.waiting];
      this.inFlight = [];
      this.waiting = [];
      for (const p of orphans) this.buildHere(p.request).then(p.resolve, p.reject);
    };
    w.on("error", fail);
    w.on("exit", (code) => fail(new Error(`the build thread exited (${code})`)));
    // Idle, it must not keep the process alive; with a batch in flight it does.
    w.unref();
    return w;
  }

  /**
   * Sends what waits once the thread has at most BACKLOG requests left: enough queued that it never
   * idles between answers, few enough that requests arriving meanwhile go together in one message.
   */
  private dispatch(): void {
    if (this.inFlight.length > BACKLOG || this.waiting.length === 0 || this.failed) return;
    this.worker ??= this.start();
    const batch = this.waiting;
    this.waiting = [];
    this.inFlight.push(...batch);
    this.worker.ref();
    this.worker.postMessage({ batch: batch.map((p) => p.request) });
  }

  /** Ends the thread; later builds run on the calling thread. */
  async close(): Promise<void> {
    this.closing = true;
    // Its exit hands whatever was in flight to the calling thread (start, fail).
    if (this.worker) await this.worker.terminate();
    this.failed ??= new Error("the build thread was closed");
  }
}
