// Group commit for SQLite: one writer connection. Transactions asked for while one is being committed
// are run together in the next database transaction, each inside its own SAVEPOINT: one that throws is
// rolled back alone (its caller sees the error, exactly as with a transaction of its own), and every
// caller hears success only after the COMMIT that holds its writes is durable (the WAL fsync of
// sqlite-driver.ts), so "durable before answered" is unchanged (architecture.md "Data that must never be
// wrong"); a crash before that loses the whole batch, none of which was answered. Fewer, larger commits
// also write fewer WAL pages: the pages every job touches (queue, registro head, folder counters) are
// written once per batch. Not used on PostgreSQL, where transactions run side by side on a pool.
import type { Transaction } from "kysely";
import { type Kysely, sql } from "./kysely.js";

interface Item<DB> {
  fn: (trx: Transaction<DB>) => Promise<unknown>;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
}

/** Most transactions committed at once: bounds the time other statements wait for the connection. */
const MAX_BATCH = 64;

export class GroupCommit<DB> {
  private queue: Item<DB>[] = [];
  private running = false;

  constructor(private readonly db: Kysely<DB>) {}

  run<T>(fn: (trx: Transaction<DB>) => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ fn, resolve: resolve as (value: unknown) => void, reject });
      if (!this.running) {
        this.running = true;
        // better-sqlite3 runs a whole transaction, COMMIT included, without yielding to I/O: asked for at
        // once, every transaction would be alone. Waiting for the end of this turn of the event loop lets
        // the jobs whose I/O completed in it join the same COMMIT.
        setImmediate(() => void this.drain());
      }
    });
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const batch = this.queue.splice(0, MAX_BATCH);
        const outcomes: { ok: boolean; value: unknown }[] = [];
        try {
          await this.db.transaction().execute(async (trx) => {
            for (const item of batch) {
              if (batch.length === 1) {
                // Alone: no savepoint needed, an error rolls the transaction back.
                outcomes.push({ ok: true, value: await item.fn(trx) });
                continue;
              }
              await sql`savepoint group_commit_item`.execute(trx);
              try {
                const value = await item.fn(trx);
                await sql`release savepoint group_commit_item`.execute(trx);
                outcomes.push({ ok: true, value });
              } catch (err) {
                await sql`rollback to savepoint group_commit_item`.execute(trx);
                await sql`release savepoint group_commit_item`.execute(trx);
                outcomes.push({ ok: false, value: err });
              }
            }
          });
        } catch (err) {
          // Nothing of the batch was committed: every caller hears the failure (its job is retried).
          for (const item of batch) item.reject(err);
          outcomes.length = 0;
        }
        if (outcomes.length === batch.length)
          batch.forEach((item, i) => {
            const o = outcomes[i]!;
            if (o.ok) item.resolve(o.value);
            else item.reject(o.value);
          });
        if (this.queue.length > 0) await new Promise((r) => setImmediate(r));
      }
    } finally {
      this.running = false;
    }
  }
}
