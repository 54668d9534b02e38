// The migration ledger (architecture.md, "Data that must never be wrong"): for every source message
// copied, (source account, target, source folder, UIDVALIDITY, UID) → (sha-256 of the bytes, size, flags
// last applied, target folder, its UIDVALIDITY, target UID).
//
// Consistency under SIGKILL without a shared transaction: a ledger row is written only *after* the
// target committed the message, so the only possible inconsistency is a message in the target that no
// ledger row claims (killed between the two commits). The engine heals that on the next run by content:
// before appending a fetched message it looks for an unclaimed target message with the same sha-256 in
// the same target folder and claims it instead (counted as "already present"). Exact duplicates stay
// exact because claims are counted per message, not per hash. The same mechanism is the fallback when
// the source's UIDVALIDITY changed (RFC 3501 §2.3.1.1): the old rows are dropped and every message is
// matched by content.
//
// The table lives in the store's own database when the caller passes the store's Kysely instance, or in
// a SQLite file of its own (IMAP-to-IMAP copies). It is created with CREATE TABLE IF NOT EXISTS so it
// needs no entry in the store's migration list.
import { hostname } from "node:os";
import SqliteDatabase from "better-sqlite3";
import { type Kysely, Kysely as KyselyCtor, SqliteDialect, sql } from "../store/kysely.js";
import { MigrationError } from "./errors.js";

export interface LedgerTable {
  source: string;
  target: string;
  folder: string;
  uidvalidity: number;
  uid: number;
  hash: string;
  size: number;
  flags: string;
  target_folder: string;
  target_uidvalidity: number;
  target_uid: number;
  copied_at: number;
}

export interface LedgerDatabase {
  migration_ledger: LedgerTable;
}

export interface LedgerRow {
  folder: string;
  uidValidity: number;
  uid: number;
  hash: string;
  size: number;
  /** Flags as last applied to the target: sorted, space-separated. */
  flags: string;
  targetFolder: string;
  targetUidValidity: number;
  targetUid: number;
}

/** A lock from another host without a heartbeat for this long is taken over. */
const LOCK_STALE_MS = 2 * 60 * 1000;

interface LockDatabase {
  migration_locks: { target: string; host: string; pid: number; heartbeat_at: number };
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists, owned by another user.
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

export function flagsKey(flags: Iterable<string>): string {
  return [...new Set([...flags].filter((f) => f.toLowerCase() !== "\\recent"))].sort().join(" ");
}

// biome-ignore lint/suspicious/noExplicitAny: any database that has (or gets) the ledger table
export async function ensureLedgerSchema(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable("migration_ledger")
    .ifNotExists()
    .addColumn("source", "text", (c) => c.notNull())
    .addColumn("target", "text", (c) => c.notNull())
    .addColumn("folder", "text", (c) => c.notNull())
    .addColumn("uidvalidity", "bigint", (c) => c.notNull())
    .addColumn("uid", "bigint", (c) => c.notNull())
    .addColumn("hash", "text", (c) => c.notNull())
    .addColumn("size", "bigint", (c) => c.notNull())
    .addColumn("flags", "text", (c) => c.notNull())
    .addColumn("target_folder", "text", (c) => c.notNull())
    .addColumn("target_uidvalidity", "bigint", (c) => c.notNull())
    .addColumn("target_uid", "bigint", (c) => c.notNull())
    .addColumn("copied_at", "bigint", (c) => c.notNull())
    .addPrimaryKeyConstraint("migration_ledger_pk", ["source", "target", "folder", "uidvalidity", "uid"])
    .execute();
  // One copy at a time into a target: two runs reconciling the same folder could both append what is
  // missing and double it. The row names its holder; a holder whose process is gone is taken over.
  await db.schema
    .createTable("migration_locks")
    .ifNotExists()
    .addColumn("target", "text", (c) => c.primaryKey())
    .addColumn("host", "text", (c) => c.notNull())
    .addColumn("pid", "bigint", (c) => c.notNull())
    .addColumn("heartbeat_at", "bigint", (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex("migration_ledger_target")
    .ifNotExists()
    .on("migration_ledger")
    .columns(["target", "target_folder"])
    .execute();
}

function toRow(r: LedgerTable): LedgerRow {
  return {
    folder: r.folder,
    uidValidity: Number(r.uidvalidity),
    uid: Number(r.uid),
    hash: r.hash,
    size: Number(r.size),
    flags: r.flags,
    targetFolder: r.target_folder,
    targetUidValidity: Number(r.target_uidvalidity),
    targetUid: Number(r.target_uid),
  };
}

export class Ledger {
  private closeFn: (() => Promise<void>) | null = null;

  constructor(
    private readonly db: Kysely<LedgerDatabase>,
    /** Source account ("user@host:port") and target ("store:address" or "imap://user@host:port"). */
    readonly scope: { source: string; target: string },
  ) {}

  /** A ledger in a SQLite file of its own (WAL: a commit survives SIGKILL of the process). */
  static async openFile(path: string, scope: { source: string; target: string }): Promise<Ledger> {
    const sqlite = new SqliteDatabase(path);
    sqlite.pragma("journal_mode = WAL");
    sqlite.pragma("synchronous = NORMAL");
    sqlite.pragma("busy_timeout = 10000");
    const db = new KyselyCtor<LedgerDatabase>({ dialect: new SqliteDialect({ database: sqlite }) });
    await ensureLedgerSchema(db);
    const l = new Ledger(db, scope);
    l.closeFn = () => db.destroy();
    return l;
  }

  /** A ledger in an existing database (the store's), creating its table when missing. */
  // biome-ignore lint/suspicious/noExplicitAny: the store's database, whatever its other tables
  static async open(db: Kysely<any>, scope: { source: string; target: string }): Promise<Ledger> {
    await ensureLedgerSchema(db);
    return new Ledger(db as Kysely<LedgerDatabase>, scope);
  }

  async close(): Promise<void> {
    await this.closeFn?.();
  }

  /**
   * Takes the target's lock for this process, or throws ALREADY_RUNNING naming who holds it. A lock is
   * stale when its process is gone (same host) or its heartbeat is older than LOCK_STALE_MS (another
   * host). Returns the release function; the heartbeat runs until then.
   */
  async lockTarget(now: () => number = Date.now): Promise<() => Promise<void>> {
    const db = this.db as unknown as Kysely<LockDatabase>;
    const me = { target: this.scope.target, host: hostname(), pid: process.pid };
    const take = async () => {
      await db
        .insertInto("migration_locks")
        .values({ ...me, heartbeat_at: now() })
        .execute();
    };
    try {
      await take();
    } catch {
      const holder = await db
        .selectFrom("migration_locks")
        .selectAll()
        .where("target", "=", me.target)
        .executeTakeFirst();
      const stale =
        !holder ||
        (holder.host === me.host
          ? !processAlive(Number(holder.pid))
          : now() - Number(holder.heartbeat_at) > LOCK_STALE_MS);
      if (!stale) {
        throw new MigrationError(
          "ALREADY_RUNNING",
          "Una copia verso questa casella è già in corso: attendi che finisca, poi rilancia se serve.",
          `held by pid ${holder.pid} on ${holder.host}`,
        );
      }
      // Take over only the row we judged stale: two runs racing for it cannot both win.
      const r = await db
        .updateTable("migration_locks")
        .set({ host: me.host, pid: me.pid, heartbeat_at: now() })
        .where("target", "=", me.target)
        .where("host", "=", holder?.host ?? "")
        .where("pid", "=", Number(holder?.pid ?? 0))
        .executeTakeFirst();
      if (holder && Number(r.numUpdatedRows) === 0) {
        throw new MigrationError(
          "ALREADY_RUNNING",
          "Una copia verso questa casella è appena partita: attendi che finisca.",
        );
      }
      if (!holder) await take();
    }
    const timer = setInterval(() => {
      db.updateTable("migration_locks")
        .set({ heartbeat_at: now() })
        .where("target", "=", me.target)
        .where("pid", "=", me.pid)
        .execute()
        .catch(() => undefined);
    }, LOCK_STALE_MS / 4);
    timer.unref();
    return async () => {
      clearInterval(timer);
      await db
        .deleteFrom("migration_locks")
        .where("target", "=", me.target)
        .where("host", "=", me.host)
        .where("pid", "=", me.pid)
        .execute();
    };
  }

  private base() {
    return this.db
      .selectFrom("migration_ledger")
      .selectAll()
      .where("source", "=", this.scope.source)
      .where("target", "=", this.scope.target);
  }

  async rowsForFolder(folder: string): Promise<LedgerRow[]> {
    return (await this.base().where("folder", "=", folder).execute()).map(toRow);
  }

  async rowsForTargetFolder(targetFolder: string): Promise<LedgerRow[]> {
    return (await this.base().where("target_folder", "=", targetFolder).execute()).map(toRow);
  }

  async insert(rows: LedgerRow[]): Promise<void> {
    if (rows.length === 0) return;
    const now = Date.now();
    await this.db.transaction().execute(async (tx) => {
      for (let i = 0; i < rows.length; i += 200) {
        await tx
          .insertInto("migration_ledger")
          .values(
            rows.slice(i, i + 200).map((r) => ({
              source: this.scope.source,
              target: this.scope.target,
              folder: r.folder,
              uidvalidity: r.uidValidity,
              uid: r.uid,
              hash: r.hash,
              size: r.size,
              flags: r.flags,
              target_folder: r.targetFolder,
              target_uidvalidity: r.targetUidValidity,
              target_uid: r.targetUid,
              copied_at: now,
            })),
          )
          .onConflict((oc) =>
            oc.columns(["source", "target", "folder", "uidvalidity", "uid"]).doUpdateSet({
              hash: sql`excluded.hash`,
              size: sql`excluded.size`,
              flags: sql`excluded.flags`,
              target_folder: sql`excluded.target_folder`,
              target_uidvalidity: sql`excluded.target_uidvalidity`,
              target_uid: sql`excluded.target_uid`,
              copied_at: sql`excluded.copied_at`,
            }),
          )
          .execute();
      }
    });
  }

  async setFlags(
    folder: string,
    uidValidity: number,
    updates: { uid: number; flags: string }[],
  ): Promise<void> {
    if (updates.length === 0) return;
    await this.db.transaction().execute(async (tx) => {
      for (const u of updates) {
        await tx
          .updateTable("migration_ledger")
          .set({ flags: u.flags })
          .where("source", "=", this.scope.source)
          .where("target", "=", this.scope.target)
          .where("folder", "=", folder)
          .where("uidvalidity", "=", uidValidity)
          .where("uid", "=", u.uid)
          .execute();
      }
    });
  }

  /** Deletes the given rows (by source UID), or every row of the folder with another UIDVALIDITY. */
  async deleteRows(
    folder: string,
    which: { uidValidity: number; uids: number[] } | { notUidValidity: number },
  ) {
    let q = this.db
      .deleteFrom("migration_ledger")
      .where("source", "=", this.scope.source)
      .where("target", "=", this.scope.target)
      .where("folder", "=", folder);
    if ("notUidValidity" in which) {
      q = q.where("uidvalidity", "!=", which.notUidValidity);
      await q.execute();
      return;
    }
    for (let i = 0; i < which.uids.length; i += 500) {
      await q
        .where("uidvalidity", "=", which.uidValidity)
        .where("uid", "in", which.uids.slice(i, i + 500))
        .execute();
    }
  }
}
