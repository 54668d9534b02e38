// Opens the metadata database: embedded SQLite (better-sqlite3, WAL) or PostgreSQL (pg), behind kysely.
import SqliteDatabase from "better-sqlite3";
import { Kysely, PostgresDialect, SqliteDialect } from "kysely";
import pg from "pg";
import { type Dialect, migrateToLatest } from "./migrations.js";
import type { Database } from "./schema.js";

// PostgreSQL returns int8 as a string so as not to lose precision; every bigint we store (sizes, times in
// ms, UIDs, modseqs) is far below 2^53.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number.parseInt(v, 10));

export interface OpenedDatabase {
  db: Kysely<Database>;
  dialect: Dialect;
}

/**
 * kysely's SQLite driver prepares every query anew; the PEC service runs the same few statements
 * thousands of times a second, and preparing was a sixth of its CPU (bench/pec-service.ts). Statements
 * are kept by SQL text; one still iterating (busy) is never handed out twice.
 */
function cacheStatements(sqlite: SqliteDatabase.Database): void {
  const prepare = sqlite.prepare.bind(sqlite);
  const cache = new Map<string, SqliteDatabase.Statement>();
  sqlite.prepare = ((source: string) => {
    const hit = cache.get(source);
    if (hit && !hit.busy) return hit;
    const stmt = prepare(source);
    if (cache.size >= 2000) cache.clear();
    cache.set(source, stmt);
    return stmt;
  }) as typeof sqlite.prepare;
}

export function isPostgresUrl(url: string): boolean {
  return /^postgres(ql)?:\/\//.test(url);
}

export async function openDatabase(options: { url?: string; sqlitePath: string }): Promise<OpenedDatabase> {
  let opened: OpenedDatabase;
  if (options.url && isPostgresUrl(options.url)) {
    const pool = new pg.Pool({ connectionString: options.url, max: 10 });
    opened = { db: new Kysely<Database>({ dialect: new PostgresDialect({ pool }) }), dialect: "postgres" };
  } else if (options.url) {
    throw new Error(
      `database.url: unsupported URL "${options.url.split(":")[0]}:…" (use postgres://… or leave empty)`,
    );
  } else {
    const sqlite = new SqliteDatabase(options.sqlitePath);
    // WAL lets readers run beside the writer; synchronous=FULL makes a commit durable before we answer
    // (an SMTP 250 or an APPEND OK promises the message survives a power cut).
    sqlite.pragma("journal_mode = WAL");
    sqlite.pragma("synchronous = FULL");
    sqlite.pragma("foreign_keys = ON");
    sqlite.pragma("busy_timeout = 10000");
    cacheStatements(sqlite);
    opened = {
      db: new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) }),
      dialect: "sqlite",
    };
  }
  await migrateToLatest(opened.db as Kysely<unknown>, opened.dialect);
  return opened;
}
