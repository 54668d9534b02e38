// The provider messages of an accepted submission, written and signed on a thread of their own. On the
// PEC service's event loop, building the acceptance, the envelope and the delivery receipt (MIME, QP,
// base64, daticert, the digests, the CMS) was about a fifth of its work, and each of the three signatures
// was a round trip to the signing threads; the event loop, which also runs SMTP, TLS and every commit,
// was what bound the service (docs/pec-service.md "Throughput"). Here one request carries all the
// messages of a submission and comes back with their signed bytes; requests made while the thread is
// busy go to it together as one batch, so under load its wake-ups are shared. Should the thread die,
// the messages in flight are built on the calling thread (slower, never lost) and a new thread takes
// over; after MAX_RESTARTS deaths everything is built on the calling thread.
import type { Worker } from "node:worker_threads";
import { startModuleThread } from "../threads/module-thread.js";
import { asBuffer, type BuildJob, runBuildJobs } from "./build-jobs.js";
import type { BuildInit, BuildReply, BuildRequest } from "./build-worker.js";
import type { BuildContext, BuiltPec } from "./builders.js";

const BACKLOG = 1;
/** Threads started again after one died, before building on the calling thread for good. */
const MAX_RESTARTS = 3;

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
  private restarts = 0;
  private nextId = 1;

  /** `ctx`: the provider, key and randomness of this process; its clock is not used (see build). */
  constructor(
    private readonly ctx: BuildContext,
    private readonly warn: (message: string, err: Error) => void = () => {},
  ) {}

  /** Builds `jobs` as of `now`, in order. */
  build(now: Date, jobs: BuildJob[]): Promise<BuiltPec[]> {
    const request: BuildRequest = { id: this.nextId++, now: now.getTime(), jobs };
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

  /** Never throws: a job that cannot be built rejects its own request only. */
  private buildHere(r: BuildRequest): Promise<BuiltPec[]> {
    return runBuildJobs(this.ctx, r.now, r.jobs);
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
      // Answers come in the order asked; one that does not match means the two sides disagree, and
      // a message must never be stored under another submission: the thread is given up.
      if (this.inFlight[0]?.request.id !== r.id) {
        fail(
          new Error(`the build thread answered request ${r.id}, expected ${this.inFlight[0]?.request.id}`),
        );
        void w.terminate();
        return;
      }
      const p = this.inFlight.shift()!;
      if (this.inFlight.length === 0) w.unref();
      if ("built" in r) {
        for (const b of r.built) b.raw = asBuffer(b.raw);
        p.resolve(r.built);
      } else p.reject(errorOf(r.error));
      this.dispatch();
    });
    const fail = (err: unknown) => {
      if (this.worker !== w) return;
      this.worker = null;
      const error = err instanceof Error ? err : new Error(String(err));
      // What it held is built here; later requests go to a new thread, unless it keeps dying.
      const orphans = this.inFlight;
      this.inFlight = [];
      if (this.closing || ++this.restarts > MAX_RESTARTS) {
        this.failed = error;
        orphans.push(...this.waiting);
        this.waiting = [];
      }
      if (!this.closing)
        this.warn(
          this.failed
            ? "the build thread failed again; messages are built on the event loop from now on"
            : "the build thread failed; its messages are built on the event loop and a new thread starts",
          error,
        );
      for (const p of orphans) this.buildHere(p.request).then(p.resolve, p.reject);
      this.dispatch();
    };
    w.on("messageerror", fail);
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
