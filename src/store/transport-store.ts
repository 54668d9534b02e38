// The PEC service's tables (migration 0002-pec-service), over the same database as the MailStore:
// - pec_jobs: a durable outbox. Every piece of work the rules require (build a receipt, deliver, send to
//   another provider, fire a timer) is a row first; workers claim rows with a lease and a token, and a
//   job is finished in the same transaction as its effects, so a crash re-runs it and never doubles it.
// - pec_transactions / pec_recipients: what the access point accepted and where each recipient stands
//   (pending → taken → delivered | failed); the receipts and the 12 h / 24 h timers read it.
// - pec_log (+ head, checkpoints): the registro, hash-chained (pec-rules.md "The log").
// - pec_quarantine: infected messages kept apart for 30 months; pec_notify: last new-mail notification.
import { createHash, randomBytes } from "node:crypto";
import type { Kysely, Transaction } from "kysely";
import * as hot from "./hot-sql.js";
import type { Dialect } from "./migrations.js";
import type { Database } from "./schema.js";

export interface PecJobsTable {
  id: import("kysely").Generated<number>;
  kind: string;
  job_key: string;
  state: string;
  run_at: number;
  lease_until: number | null;
  lease_token: string | null;
  attempts: number;
  payload: string;
  last_error: string | null;
  created_at: number;
  finished_at: number | null;
}

export interface PecTransactionsTable {
  identificativo: string;
  sender: string;
  tx: string;
  created_at: number;
}

export interface PecRecipientsTable {
  identificativo: string;
  address: string;
  tipo: string;
  state: string;
  updated_at: number;
}

export interface PecLogTable {
  seq: number;
  at: number;
  event: string;
  identificativo: string | null;
  msgid: string | null;
  sender: string | null;
  recipients: string;
  subject: string | null;
  outcome: string;
  prev_hash: string;
  hash: string;
}

export interface PecLogHeadTable {
  id: number;
  seq: number;
  hash: string;
}

export interface PecLogCheckpointsTable {
  seq: number;
  at: number;
  hash: string;
  signature: string;
  certificate: string;
}

export interface PecQuarantineTable {
  id: import("kysely").Generated<number>;
  at: number;
  keep_until: number;
  blob_id: string;
  identificativo: string | null;
  reason: string;
}

export interface PecNotifyTable {
  mailbox_id: number;
  last_sent_at: number;
}

export type TransportTables = {
  pec_jobs: PecJobsTable;
  pec_transactions: PecTransactionsTable;
  pec_recipients: PecRecipientsTable;
  pec_log: PecLogTable;
  pec_log_head: PecLogHeadTable;
  pec_log_checkpoints: PecLogCheckpointsTable;
  pec_quarantine: PecQuarantineTable;
  pec_notify: PecNotifyTable;
};

export type TDB = Database & TransportTables;
/** A transaction of the MailStore (appendMessages' `within`) or of the TransportStore. */
export type AnyTx = Transaction<Database> | Transaction<TDB>;

export type JobState = "pending" | "running" | "done" | "failed";

export interface NewJob {
  kind: string;
  /** Unique: the same key enqueued twice is one job (idempotent re-runs). */
  key: string;
  payload: unknown;
  runAt: number;
}

export interface Job {
  id: number;
  kind: string;
  key: string;
  payload: unknown;
  attempts: number;
  token: string;
  runAt: number;
}

export type RecipientState = "pending" | "taken" | "delivered" | "failed";

export interface LogEntryInput {
  event: string;
  identificativo?: string | null;
  msgid?: string | null;
  sender?: string | null;
  recipients?: string[];
  subject?: string | null;
  outcome: string;
  at?: number;
}

export interface LogEntry extends Required<Omit<LogEntryInput, "at">> {
  seq: number;
  at: number;
  prevHash: string;
  hash: string;
}

export const LOG_GENESIS = "0".repeat(64);

/** The hash of one registro entry over every field and the previous hash (SHA-256, hex). */
export function logEntryHash(e: Omit<LogEntry, "hash">): string {
  return createHash("sha256")
    .update(
      JSON.stringify([
        e.seq,
        e.at,
        e.event,
        e.identificativo,
        e.msgid,
        e.sender,
        e.recipients,
        e.subject,
        e.outcome,
        e.prevHash,
      ]),
    )
    .digest("hex");
}

/** The columns of a registro row, in the order the hot insert binds them (hot-sql.ts). */
const LOG_COLUMNS = [
  "seq",
  "at",
  "event",
  "identificativo",
  "msgid",
  "sender",
  "recipients",
  "subject",
  "outcome",
  "prev_hash",
  "hash",
] as const satisfies readonly (keyof PecLogTable)[];
const LOG_COLUMN_LIST = hot.columnList(LOG_COLUMNS);

export class JobLostError extends Error {
  override name = "JobLostError";
}

export class TransportStore {
  readonly db: Kysely<TDB>;

  constructor(
    db: Kysely<Database>,
    readonly dialect: Dialect,
    /** the MailStore's write transactions (group commit on SQLite, see group-commit.ts) */
    private readonly transact?: <T>(fn: (trx: Transaction<Database>) => Promise<T>) => Promise<T>,
  ) {
    this.db = db.withTables<TransportTables>();
  }

  /** The MailStore's transaction seen with the transport tables. */
  static t(trx: AnyTx): Transaction<TDB> {
    return (trx as Transaction<Database>).withTables<TransportTables>();
  }

  transaction<T>(fn: (trx: Transaction<TDB>) => Promise<T>): Promise<T> {
    if (this.transact) return this.transact((trx) => fn(TransportStore.t(trx)));
    return this.db.transaction().execute(fn);
  }

  // ------------------------------------------------------------------ jobs

  /**
   * Adds jobs; a key already taken (by a job in any state) is left as it is. Returns the keys added: on
   * PostgreSQL the one answer that sees a concurrent transaction's uncommitted keys, since an insert
   * waits for it (ON CONFLICT).
   */
  async enqueue(trx: AnyTx, jobs: NewJob[], now: number): Promise<string[]> {
    const t = TransportStore.t(trx);
    const added: string[] = [];
    for (let i = 0; i < jobs.length; i += 200) {
      const part = jobs.slice(i, i + 200);
      const rows = await t
        .insertInto("pec_jobs")
        .values(
          part.map((j) => ({
            kind: j.kind,
            job_key: j.key,
            state: "pending",
            run_at: j.runAt,
            lease_until: null,
            lease_token: null,
            attempts: 0,
            payload: JSON.stringify(j.payload),
            last_error: null,
            created_at: now,
            finished_at: null,
          })),
        )
        .onConflict((oc) => oc.column("job_key").doNothing())
        .returning("job_key")
        .execute();
      added.push(...rows.map((r) => r.job_key));
    }
    return added;
  }

  /** Which of these job keys are taken already (by a job in any state). */
  async existingKeys(keys: string[]): Promise<Set<string>> {
    if (keys.length === 0) return new Set();
    const rows = await this.db
      .selectFrom("pec_jobs")
      .select("job_key")
      .where("job_key", "in", keys)
      .execute();
    return new Set(rows.map((r) => r.job_key));
  }

  /**
   * Claims up to `limit` due jobs. PostgreSQL (several nodes): a lease and a token written to the row,
   * so a crashed node's jobs come back when the lease ends and a slow node cannot finish a job twice.
   * SQLite (one node by construction): the process keeps its claims in memory (`held`) and writes
   * nothing — a crash forgets them, and the jobs, still pending in the database, run again at restart.
   * A claim is not a commit, so it costs no fsync (bench/pec-service.ts).
   */
  async claim(limit: number, now: number, leaseMs: number, held: ReadonlySet<number>): Promise<Job[]> {
    if (this.dialect === "sqlite") {
      // The jobs held are skipped here rather than in SQL (`not in (…)` made a new statement text, so a
      // new prepare, at almost every claim): asking for as many more rows finds the same jobs.
      const rows = (
        await this.db
          .selectFrom("pec_jobs")
          .selectAll()
          .where("state", "=", "pending")
          .where("run_at", "<=", now)
          .orderBy("run_at")
          .orderBy("id")
          .limit(limit + held.size)
          .execute()
      )
        .filter((r) => !held.has(r.id))
        .slice(0, limit);
      return rows.map((r) => ({
        id: r.id,
        kind: r.kind,
        key: r.job_key,
        payload: JSON.parse(r.payload) as unknown,
        attempts: r.attempts + 1,
        token: "",
        runAt: r.run_at,
      }));
    }
    const token = randomBytes(8).toString("hex");
    return this.db.transaction().execute(async (trx) => {
      const ids = (
        await trx
          .selectFrom("pec_jobs")
          .select("id")
          .where((eb) =>
            eb.or([
              eb.and([eb("state", "=", "pending"), eb("run_at", "<=", now)]),
              eb.and([eb("state", "=", "running"), eb("lease_until", "<", now)]),
            ]),
          )
          .orderBy("run_at")
          .orderBy("id")
          .limit(limit)
          .forUpdate()
          .skipLocked()
          .execute()
      ).map((r) => r.id);
      if (ids.length === 0) return [];
      const rows = await trx
        .updateTable("pec_jobs")
        .set((eb) => ({
          state: "running",
          lease_until: now + leaseMs,
          lease_token: token,
          attempts: eb("attempts", "+", 1),
        }))
        .where("id", "in", ids)
        .returningAll()
        .execute();
      return rows.map((r) => ({
        id: r.id,
        kind: r.kind,
        key: r.job_key,
        payload: JSON.parse(r.payload) as unknown,
        attempts: r.attempts,
        token: r.lease_token!,
        runAt: r.run_at,
      }));
    });
  }

  /** Finishes a claimed job inside the transaction of its effects; throws (rolling back) if it was lost. */
  async complete(trx: AnyTx, job: Job, now: number, state: "done" | "failed" = "done", error?: string) {
    const r = await TransportStore.t(trx)
      .updateTable("pec_jobs")
      .set({ state, finished_at: now, lease_until: null, last_error: error ?? null, attempts: job.attempts })
      .where("id", "=", job.id)
      .where("lease_token", job.token ? "=" : "is", job.token || null)
      .where("state", "=", job.token ? "running" : "pending")
      .executeTakeFirst();
    if (Number(r.numUpdatedRows) !== 1) throw new JobLostError(`job ${job.id} was taken over`);
  }

  async retry(job: Job, runAt: number, error: string): Promise<void> {
    await this.db
      .updateTable("pec_jobs")
      .set({
        state: "pending",
        run_at: runAt,
        lease_until: null,
        lease_token: null,
        attempts: job.attempts,
        last_error: error.slice(0, 500),
      })
      .where("id", "=", job.id)
      .where("lease_token", job.token ? "=" : "is", job.token || null)
      .execute();
  }

  /** At start of a single-node (SQLite) instance nobody else can hold a lease: take them all back. */
  async releaseAll(): Promise<void> {
    await this.db
      .updateTable("pec_jobs")
      .set({ state: "pending", lease_until: null })
      .where("state", "=", "running")
      .execute();
  }

  async nextRunAt(): Promise<number | null> {
    const r = await this.db
      .selectFrom("pec_jobs")
      .select((eb) => eb.fn.min("run_at").as("t"))
      .where("state", "=", "pending")
      .executeTakeFirst();
    return r?.t == null ? null : Number(r.t);
  }

  async counts(): Promise<{ kind: string; state: string; n: number }[]> {
    const rows = await this.db
      .selectFrom("pec_jobs")
      .select(["kind", "state", (eb) => eb.fn.countAll<number>().as("n")])
      .groupBy(["kind", "state"])
      .orderBy("kind")
      .orderBy("state")
      .execute();
    return rows.map((r) => ({ kind: r.kind, state: r.state, n: Number(r.n) }));
  }

  async listJobs(states: JobState[], limit = 100) {
    return this.db
      .selectFrom("pec_jobs")
      .select(["id", "kind", "job_key", "state", "run_at", "attempts", "last_error", "created_at"])
      .where("state", "in", states)
      .orderBy("run_at")
      .limit(limit)
      .execute();
  }

  // ------------------------------------------------------------------ transactions and recipients

  async saveTransaction(
    trx: AnyTx,
    identificativo: string,
    sender: string,
    tx: unknown,
    /** `state`: where a recipient already stands (delivered in this same transaction); default pending */
    recipients: { address: string; tipo: string; state?: RecipientState }[],
    now: number,
  ): Promise<void> {
    await hot.run(
      trx,
      this.dialect,
      'insert into "pec_transactions" ("identificativo", "sender", "tx", "created_at") values (?, ?, ?, ?) on conflict ("identificativo") do nothing',
      [identificativo, sender, JSON.stringify(tx), now],
    );
    if (recipients.length === 0) return;
    await hot.run(
      trx,
      this.dialect,
      `insert into "pec_recipients" ("identificativo", "address", "tipo", "state", "updated_at") values ${hot.valuesList(recipients.length, 5)} on conflict ("identificativo", "address") do nothing`,
      recipients.flatMap((r) => [identificativo, r.address.toLowerCase(), r.tipo, r.state ?? "pending", now]),
    );
  }

  async getTransaction(identificativo: string): Promise<{ sender: string; tx: unknown } | null> {
    const r = await this.db
      .selectFrom("pec_transactions")
      .selectAll()
      .where("identificativo", "=", identificativo)
      .executeTakeFirst();
    return r ? { sender: r.sender, tx: JSON.parse(r.tx) as unknown } : null;
  }

  async recipients(identificativo: string) {
    return this.db
      .selectFrom("pec_recipients")
      .selectAll()
      .where("identificativo", "=", identificativo)
      .execute();
  }

  /**
   * Moves a recipient forward (pending → taken → delivered | failed); never backwards, so a late presa in
   * carico does not undo a delivery. Returns whether the row changed.
   */
  async advanceRecipient(
    trx: AnyTx,
    identificativo: string,
    address: string,
    state: RecipientState,
    now: number,
  ): Promise<boolean> {
    const from: RecipientState[] =
      state === "taken"
        ? ["pending"]
        : state === "delivered" || state === "failed"
          ? ["pending", "taken"]
          : [];
    if (from.length === 0) return false;
    const r = await hot.run(
      trx,
      this.dialect,
      `update "pec_recipients" set "state" = ?, "updated_at" = ? where "identificativo" = ? and "address" = ? and "state" in (${from.map(() => "?").join(", ")})`,
      [state, now, identificativo, address.toLowerCase(), ...from],
    );
    return Number(r.numAffectedRows ?? 0) > 0;
  }

  // ------------------------------------------------------------------ registro

  async appendLog(trx: AnyTx, entries: LogEntryInput[], now: number): Promise<void> {
    if (entries.length === 0) return;
    // The head row is created by migration 0004-log-head; on PostgreSQL other nodes wait for our commit.
    const [head] = (
      await hot.run<{ seq: number | string; hash: string }>(
        trx,
        this.dialect,
        this.dialect === "postgres"
          ? 'select "seq", "hash" from "pec_log_head" where "id" = 1 for update'
          : 'select "seq", "hash" from "pec_log_head" where "id" = 1',
        [],
      )
    ).rows;
    if (!head) throw new Error("the registro head row is missing (migration 0004-log-head)");
    let seq = Number(head.seq);
    let prev = head.hash;
    const rows: PecLogTable[] = [];
    for (const e of entries) {
      seq++;
      const entry = {
        seq,
        at: e.at ?? now,
        event: e.event,
        identificativo: e.identificativo ?? null,
        msgid: e.msgid ?? null,
        sender: e.sender ?? null,
        recipients: (e.recipients ?? []).map((r) => r.toLowerCase()),
        subject: e.subject ?? null,
        outcome: e.outcome,
        prevHash: prev,
      };
      const hash = logEntryHash(entry);
      rows.push({
        seq,
        at: entry.at,
        event: entry.event,
        identificativo: entry.identificativo,
        msgid: entry.msgid,
        sender: entry.sender,
        recipients: JSON.stringify(entry.recipients),
        subject: entry.subject,
        outcome: entry.outcome,
        prev_hash: prev,
        hash,
      });
      prev = hash;
    }
    await hot.run(
      trx,
      this.dialect,
      `insert into "pec_log" ${LOG_COLUMN_LIST} values ${hot.valuesList(rows.length, LOG_COLUMNS.length)}`,
      rows.flatMap((r) => LOG_COLUMNS.map((c) => r[c])),
    );
    await hot.run(trx, this.dialect, 'update "pec_log_head" set "seq" = ?, "hash" = ? where "id" = 1', [
      seq,
      prev,
    ]);
  }

  async logHead(): Promise<{ seq: number; hash: string }> {
    const h = await this.db.selectFrom("pec_log_head").selectAll().where("id", "=", 1).executeTakeFirst();
    return h ? { seq: Number(h.seq), hash: h.hash } : { seq: 0, hash: LOG_GENESIS };
  }

  async *logEntries(options: { fromAt?: number; toAt?: number } = {}): AsyncGenerator<LogEntry> {
    let after = 0;
    for (;;) {
      let q = this.db.selectFrom("pec_log").selectAll().where("seq", ">", after);
      if (options.fromAt !== undefined) q = q.where("at", ">=", options.fromAt);
      if (options.toAt !== undefined) q = q.where("at", "<=", options.toAt);
      const rows = await q.orderBy("seq").limit(1000).execute();
      if (rows.length === 0) return;
      for (const r of rows) {
        yield {
          seq: Number(r.seq),
          at: Number(r.at),
          event: r.event,
          identificativo: r.identificativo,
          msgid: r.msgid,
          sender: r.sender,
          recipients: JSON.parse(r.recipients) as string[],
          subject: r.subject,
          outcome: r.outcome,
          prevHash: r.prev_hash,
          hash: r.hash,
        };
      }
      after = Number(rows.at(-1)!.seq);
    }
  }

  async addCheckpoint(c: PecLogCheckpointsTable): Promise<void> {
    await this.db
      .insertInto("pec_log_checkpoints")
      .values(c)
      .onConflict((oc) => oc.column("seq").doNothing())
      .execute();
  }

  async checkpoints(): Promise<PecLogCheckpointsTable[]> {
    return this.db.selectFrom("pec_log_checkpoints").selectAll().orderBy("seq").execute();
  }

  async lastCheckpoint(): Promise<PecLogCheckpointsTable | null> {
    return (
      (await this.db
        .selectFrom("pec_log_checkpoints")
        .selectAll()
        .orderBy("seq", "desc")
        .limit(1)
        .executeTakeFirst()) ?? null
    );
  }

  /**
   * Retention (30 months, pec-rules.md "The log"): removes the entries up to the newest checkpoint signed
   * before `before`, so the first entry kept is anchored by that checkpoint and `log verify` still holds;
   * quarantined messages past their keep_until go too. Returns the entries removed.
   */
  async applyRetention(before: number, now: number): Promise<number> {
    const cp = await this.db
      .selectFrom("pec_log_checkpoints")
      .select(["seq"])
      .where("at", "<", before)
      .orderBy("seq", "desc")
      .limit(1)
      .executeTakeFirst();
    await this.db.deleteFrom("pec_quarantine").where("keep_until", "<", now).execute();
    if (!cp) return 0;
    const r = await this.db.deleteFrom("pec_log").where("seq", "<=", Number(cp.seq)).executeTakeFirst();
    return Number(r.numDeletedRows);
  }

  // ------------------------------------------------------------------ quarantine, notifications

  async quarantine(
    trx: AnyTx,
    q: { blobId: string; identificativo: string | null; reason: string; keepUntil: number },
    now: number,
  ): Promise<void> {
    await TransportStore.t(trx)
      .insertInto("pec_quarantine")
      .values({
        at: now,
        keep_until: q.keepUntil,
        blob_id: q.blobId,
        identificativo: q.identificativo,
        reason: q.reason,
      })
      .execute();
  }

  async quarantined() {
    return this.db.selectFrom("pec_quarantine").selectAll().orderBy("id").execute();
  }

  async lastNotification(mailboxId: number): Promise<number | null> {
    const r = await this.db
      .selectFrom("pec_notify")
      .select("last_sent_at")
      .where("mailbox_id", "=", mailboxId)
      .executeTakeFirst();
    return r ? Number(r.last_sent_at) : null;
  }

  async setNotification(trx: AnyTx, mailboxId: number, at: number): Promise<void> {
    await TransportStore.t(trx)
      .insertInto("pec_notify")
      .values({ mailbox_id: mailboxId, last_sent_at: at })
      .onConflict((oc) => oc.column("mailbox_id").doUpdateSet({ last_sent_at: at }))
      .execute();
  }
}
