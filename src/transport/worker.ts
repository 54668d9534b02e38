// The queue worker: claims due jobs (a lease and a token, so a crashed process's work comes back and a
// slow one's cannot be finished twice), runs up to `pec.workers` at once, retries failures with backoff.
// Woken at once when new jobs are committed in this process; polls otherwise (timers, other processes).
import { type Job, JobLostError } from "../store/transport-store.js";
import { handleSubmit } from "./access-point.js";
import { MONTH_MS, type ServiceContext } from "./context.js";
import { handleDeliver, handleStore } from "./delivery-point.js";
import { handleIncoming, handleSystem } from "./incoming-point.js";
import { handleNotify } from "./notify.js";
import { backoffMs, handleSend, RetryLater } from "./outbound.js";
import { checkpoint } from "./registro.js";
import { handleTimer } from "./timers.js";

const HANDLERS: Record<string, (svc: ServiceContext, job: Job) => Promise<void>> = {
  submit: handleSubmit,
  incoming: handleIncoming,
  deliver: handleDeliver,
  store: handleStore,
  send: handleSend,
  timer: handleTimer,
  system: handleSystem,
  notify: handleNotify,
};

/**
 * Jobs the rules depend on (acceptance, delivery, receipts, timers) are retried for ever, with backoff up
 * to `pec.retryMaxMinutes`: a broken scanner or a full disk delays them, never drops them. Only what is a
 * courtesy (notifications) and jobs of an unknown kind are set aside as failed after this many attempts.
 */
const MAX_ATTEMPTS = 20;
const GIVE_UP_KINDS = new Set(["notify"]);
const LEASE_MS = 120_000;
const POLL_MS = 500;
const CHECKPOINT_MS = 60_000;
const RETENTION_MS = 6 * 3600_000;

export class Worker {
  private inflight = 0;
  /** ids of the jobs this process runs now (the whole claim on SQLite, see TransportStore.claim) */
  private readonly held = new Set<number>();
  private stopped = false;
  private timer: NodeJS.Timeout | null = null;
  private pumping = false;
  private again = false;
  private idle: (() => void) | null = null;
  private lastCheckpoint = 0;
  private lastRetention = 0;

  constructor(private readonly svc: ServiceContext) {}

  start(): void {
    this.timer = setInterval(() => this.wake(), POLL_MS);
    this.wake();
  }

  wake(): void {
    if (this.stopped) return;
    if (this.pumping) {
      this.again = true;
      return;
    }
    this.pumping = true;
    void this.pump().finally(() => {
      this.pumping = false;
      if (this.again) {
        this.again = false;
        this.wake();
      }
    });
  }

  private async pump(): Promise<void> {
    const max = this.svc.config.pec.workers;
    while (!this.stopped && this.inflight < max) {
      const now = this.svc.clock().getTime();
      let jobs: Job[];
      try {
        jobs = await this.svc.ts.claim(max - this.inflight, now, LEASE_MS, this.held);
      } catch (err) {
        this.svc.warn("claiming jobs failed", err);
        return;
      }
      if (jobs.length === 0) break;
      // A job may have been read a moment before the commit that made it is durable (sqlite-driver.ts):
      // nothing leaves this process on its strength until it is.
      try {
        await this.svc.store.durable();
      } catch (err) {
        this.svc.warn("waiting for durable commits failed", err);
        return;
      }
      for (const job of jobs) {
        this.inflight++;
        this.held.add(job.id);
        void this.run(job).finally(() => {
          this.held.delete(job.id);
          this.inflight--;
          if (this.inflight === 0 && this.idle) this.idle();
          this.wake();
        });
      }
    }
    const now = Date.now();
    if (now - this.lastCheckpoint > CHECKPOINT_MS) {
      this.lastCheckpoint = now;
      await this.checkpoint(false);
    }
    if (now - this.lastRetention > RETENTION_MS) {
      this.lastRetention = now;
      const t = this.svc.clock().getTime();
      await this.svc.ts
        .applyRetention(t - this.svc.config.pec.logRetentionMonths * MONTH_MS, t)
        .catch((err: unknown) => this.svc.warn("registro retention failed", err));
    }
  }

  async checkpoint(force: boolean): Promise<void> {
    try {
      await checkpoint(
        this.svc.ts,
        this.svc.keys,
        this.svc.clock().getTime(),
        this.svc.config.pec.checkpointEvery,
        force,
      );
    } catch (err) {
      this.svc.warn("registro checkpoint failed", err);
    }
  }

  private async run(job: Job): Promise<void> {
    const handler = HANDLERS[job.kind];
    try {
      if (!handler) throw new Error(`unknown job kind ${job.kind}`);
      await handler(this.svc, job);
    } catch (err) {
      if (err instanceof JobLostError) return;
      if (!(err instanceof RetryLater)) this.svc.warn(`job ${job.id} (${job.kind}) failed`, err);
      const now = this.svc.clock().getTime();
      try {
        const givesUp = GIVE_UP_KINDS.has(job.kind) || !handler;
        if (givesUp && job.attempts >= MAX_ATTEMPTS && !(err instanceof RetryLater)) {
          await this.svc.ts.transaction((trx) =>
            this.svc.ts.complete(trx, job, now, "failed", String((err as Error).message)),
          );
        } else {
          await this.svc.ts.retry(
            job,
            now + backoffMs(job.attempts, this.svc.config.pec.retryMaxMinutes),
            String((err as Error).message),
          );
        }
      } catch (e) {
        this.svc.warn(`job ${job.id}: could not record the failure`, e);
      }
    }
  }

  /** Stops claiming, waits for the jobs in flight, signs the registro head. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    while (this.pumping) await new Promise((r) => setTimeout(r, 10));
    if (this.inflight > 0) await new Promise<void>((resolve) => (this.idle = resolve));
    await this.checkpoint(true);
  }
}
