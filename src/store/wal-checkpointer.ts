// Copies SQLite's write-ahead log back into the database file on a worker thread. SQLite's automatic
// checkpoint runs inside the COMMIT that crosses `wal_autocheckpoint` pages, on the connection that
// committed: here the event-loop thread, which then wrote a thousand pages and waited for two fsyncs
// (WAL before, database after, https://sqlite.org/pragma.html#pragma_synchronous) while every SMTP
// session, IMAP connection and job waited (a third of COMMIT's time in bench/pec-service.ts).
//
// A second connection on a worker thread runs PASSIVE checkpoints instead (https://sqlite.org/wal.html
// "Checkpointing"): they never block the writer, and the writer restarts the WAL at its next transaction
// once everything in it has been copied. The writer's own automatic checkpoint stays on with a high
// threshold as a safety net, for when the worker cannot keep up or never finds the WAL fully copied.
import { createRequire } from "node:module";
import { Worker } from "node:worker_threads";

/** The writer's own automatic checkpoint, as a safety net: 16,384 pages of 4 KiB (64 MiB of WAL). */
export const WRITER_AUTOCHECKPOINT_PAGES = 16_384;

/** Commits between two checkpoints: ~30 pages a PEC message, so about SQLite's default 1,000 pages. */
const COMMITS_PER_CHECKPOINT = 32;

// Plain CommonJS run with `eval`: the same text works from dist/ and from the sources under tsx.
const WORKER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
const Database = require(workerData.module);
const db = new Database(workerData.path);
db.pragma("busy_timeout = 1000");
db.pragma("synchronous = NORMAL");
parentPort.on("message", (m) => {
  if (m === "close") {
    db.close();
    parentPort.close();
    return;
  }
  try {
    const [r] = db.pragma("wal_checkpoint(PASSIVE)");
    parentPort.postMessage({ busy: r.busy, log: r.log, checkpointed: r.checkpointed });
  } catch (err) {
    parentPort.postMessage({ error: String(err && err.message ? err.message : err) });
  }
});
`;

export interface CheckpointResult {
  /** frames in the WAL, and how many of them are now in the database file */
  log: number;
  checkpointed: number;
}

export class WalCheckpointer {
  private worker: Worker | null = null;
  private commits = 0;
  private running = false;
  private again = false;
  private waiters: (() => void)[] = [];
  private closed = false;
  private exited = false;
  /** the last checkpoint's outcome, for tests and metrics */
  last: CheckpointResult | null = null;
  lastError: string | null = null;
  count = 0;

  constructor(private readonly path: string) {}

  /**
   * The thread starts at the first checkpoint, not when the store opens: booting it (a Node context and
   * better-sqlite3) costs ~0.1 s of CPU, which a CLI command that commits a few times would pay for nothing.
   */
  private thread(): Worker {
    if (this.worker) return this.worker;
    const module = createRequire(import.meta.url).resolve("better-sqlite3");
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { path: this.path, module } });
    this.worker = worker;
    // An idle checkpointer must not keep a process alive (CLI commands open the store and exit); one at
    // work does, so that what waits for it is answered.
    worker.unref();
    worker.on("message", (m: (CheckpointResult & { busy: number }) | { error: string }) => {
      if ("error" in m) this.lastError = m.error;
      else {
        this.last = { log: m.log, checkpointed: m.checkpointed };
        this.count++;
      }
      this.running = false;
      worker.unref();
      if (this.again && !this.closed) {
        this.again = false;
        this.start();
      } else {
        for (const w of this.waiters.splice(0)) w();
      }
    });
    worker.once("exit", () => {
      this.exited = true;
      this.running = false;
      for (const w of this.waiters.splice(0)) w();
    });
    worker.on("error", (err) => {
      this.lastError = String(err);
      this.running = false;
      for (const w of this.waiters.splice(0)) w();
    });
    return worker;
  }

  /** A commit was written: every so many, a checkpoint on the worker. */
  committed(): void {
    if (++this.commits < COMMITS_PER_CHECKPOINT) return;
    this.commits = 0;
    this.request();
  }

  /** Asks for a checkpoint now; one already running is followed by one more. */
  request(): void {
    if (this.closed || this.exited) return;
    if (this.running) this.again = true;
    else this.start();
  }

  /** Resolves when no checkpoint is running or asked for. */
  settled(): Promise<void> {
    if (!this.running) return Promise.resolve();
    return new Promise((r) => this.waiters.push(r));
  }

  private start(): void {
    let worker: Worker;
    try {
      worker = this.thread();
    } catch (err) {
      // Called between a COMMIT and its fsync: never throw there. The writer's own automatic checkpoint
      // (WRITER_AUTOCHECKPOINT_PAGES) keeps the WAL bounded without us.
      this.lastError = String(err);
      this.exited = true;
      return;
    }
    this.running = true;
    worker.ref();
    worker.postMessage("checkpoint");
  }

  /** Waits for a running checkpoint, then closes the worker's connection and ends the thread. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.again = false;
    await this.settled();
    const worker = this.worker;
    if (!worker || this.exited) return;
    const exited = new Promise<void>((r) => worker.once("exit", () => r()));
    worker.ref();
    worker.postMessage("close");
    await exited;
  }
}
