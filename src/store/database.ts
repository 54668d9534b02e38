// Opens the metadata database: embedded SQLite (better-sqlite3, WAL) or PostgreSQL (pg), behind kysely.
import SqliteDatabase from "better-sqlite3";
import { Kysely, PostgresDialect } from "./kysely.js";
import { type Dialect, migrateToLatest } from "./migrations.js";
import type { Database } from "./schema.js";
import { DurableSqliteDialect } from "./sqlite-driver.js";
import { WRITER_AUTOCHECKPOINT_PAGES } from "./wal-checkpointer.js";

/**
 * pg only when the database is PostgreSQL: its thirty-odd modules were a tenth of the start-up of every
 * command on SQLite (`domicilio migrate` runs as a process of its own, and its time counts).
 */
async function loadPg(): Promise<typeof import("pg").default> {
  const pg = (await import("pg")).default;
  // PostgreSQL returns int8 as a string so as not to lose precision; every bigint we store (sizes, times
  // in ms, UIDs, modseqs) is far below 2^53.
  pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number.parseInt(v, 10));
  return pg;
}

export interface OpenedDatabase {
  db: Kysely<Database>;
  dialect: Dialect;
  /**
   * Resolves once every commit this process has made is durable. On SQLite a commit can be read a moment
   * before its fsync ends (sqlite-driver.ts); what acts outside on the strength of a read waits for this.
   */
  durable: () => Promise<void>;
}

export function isPostgresUrl(url: string): boolean {
  return /^postgres(ql)?:\/\//.test(url);
}

export async function openDatabase(options: { url?: string; sqlitePath: string }): Promise<OpenedDatabase> {
  let opened: OpenedDatabase;
  if (options.url && isPostgresUrl(options.url)) {
    const pg = await loadPg();
    const pool = new pg.Pool({ connectionString: options.url, max: 10 });
    opened = {
      db: new Kysely<Database>({ dialect: new PostgresDialect({ pool }) }),
      dialect: "postgres",
      // PostgreSQL shows a commit to others only once it is flushed (synchronous_commit=on).
      durable: () => Promise.resolve(),
    };
  } else if (options.url) {
    throw new Error(
      `database.url: unsupported URL "${options.url.split(":")[0]}:…" (use postgres://… or leave empty)`,
    );
  } else {
    const sqlite = new SqliteDatabase(options.sqlitePath);
    // WAL lets readers run beside the writer. A commit is durable before we answer (an SMTP 250 or an
    // APPEND OK promises the message survives a power cut): synchronous=NORMAL plus an fsync of the WAL
    // off the event loop, see sqlite-driver.ts.
    sqlite.pragma("journal_mode = WAL");
    sqlite.pragma("synchronous = NORMAL");
    sqlite.pragma("foreign_keys = ON");
    sqlite.pragma("busy_timeout = 10000");
    sqlite.pragma(`wal_autocheckpoint = ${WRITER_AUTOCHECKPOINT_PAGES}`); // the worker checkpoints first
    // Group commit runs each transaction of a batch in a SAVEPOINT, whose sub-journal keeps the original
    // of every page it changes; past 64 KiB (16 pages, less than one PEC message) SQLite spills it to a
    // temporary file, written with a syscall per page (https://sqlite.org/tempfiles.html §2.5). Kept in
    // memory instead: a batch of 64 messages is a few MiB at most.
    sqlite.pragma("temp_store = MEMORY");

    const dialect = new DurableSqliteDialect(sqlite, options.sqlitePath);
    opened = {
      db: new Kysely<Database>({ dialect }),
      dialect: "sqlite",
      durable: () => dialect.wal.barrier(),
    };
  }
  await migrateToLatest(opened.db as Kysely<unknown>, opened.dialect);
  return opened;
}
