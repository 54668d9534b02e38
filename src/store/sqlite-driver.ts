// kysely's SQLite dialect over better-sqlite3, with two changes the mail store needs:
//
// 1. Durable commits that do not stop the event loop. With synchronous=FULL, SQLite fsyncs the WAL inside
//    COMMIT, and better-sqlite3 runs COMMIT on the event-loop thread: every SMTP session, IMAP connection
//    and job waited for the disk (a third of the PEC service's time, bench/pec-service.ts). Here the
//    connection runs with synchronous=NORMAL, where COMMIT only write(2)s its WAL frames, and the commit
//    is reported to its caller only after an fsync(2) of the WAL file has completed on the thread pool.
//    One fsync covers every commit written before it started (the WAL is appended to in order), so
//    commits arriving while one fsync runs share the next one: group commit without a batching delay.
//    Checkpoints are safe as before: in WAL mode with synchronous=NORMAL SQLite syncs the WAL before a
//    checkpoint copies it and the database after (https://sqlite.org/pragma.html#pragma_synchronous);
//    they run on a worker thread (wal-checkpointer.ts).
//    A process crash loses nothing written (the page cache survives it); a power cut loses at most
//    commits nobody was told about. Other connections may read a commit a fraction of a millisecond
//    before it is durable; what leaves the process on the strength of a commit (a job claimed by the
//    PEC worker, a store change event) waits for `durable()` first.
// 2. Prepared statements kept by SQL text: kysely prepares every query anew, and the PEC service runs the
//    same few statements thousands of times a second (preparing was a sixth of its CPU).
import fs from "node:fs";
import { promisify } from "node:util";
import type SqliteDatabase from "better-sqlite3";
import type {
  DatabaseConnection,
  DatabaseIntrospector,
  Dialect,
  DialectAdapter,
  Driver,
  QueryCompiler,
  QueryResult,
} from "kysely";
import {
  CompiledQuery,
  type Kysely,
  SqliteAdapter,
  SqliteIntrospector,
  SqliteQueryCompiler,
} from "./kysely.js";
import { WalCheckpointer } from "./wal-checkpointer.js";

const fsync = promisify(fs.fsync);

/** Coalesces fsyncs of one file: a caller is answered by the first fsync that started after it asked. */
export class FileSync {
  private fd: number | null = null;
  /** the fsync under way (it may have started before the caller's write) */
  private running: Promise<void> | null = null;
  /** the fsync that starts when the one under way ends: it covers every caller who asks meanwhile */
  private pending: Promise<void> | null = null;
  /** something was written since the last fsync started */
  private dirty = false;

  constructor(private readonly path: string) {}

  /** A write reached the file (the connection calls it after every statement that changes data). */
  written(): void {
    this.dirty = true;
  }

  /**
   * Resolves once everything written before this call is on disk, without an fsync of its own when
   * nothing was written since the last one started: a cheap barrier before acting on what was read.
   */
  barrier(): Promise<void> {
    if (this.dirty) return this.sync();
    return this.pending ?? this.running ?? Promise.resolve();
  }

  /** Resolves once everything written to the file before this call is on disk. */
  sync(): Promise<void> {
    if (this.pending) return this.pending;
    if (!this.running) return this.start();
    this.pending = this.running
      .catch(() => undefined)
      .then(() => {
        this.pending = null;
        return this.start();
      });
    return this.pending;
  }

  private start(): Promise<void> {
    this.dirty = false;
    const run: Promise<void> = this.fsyncOnce().finally(() => {
      if (this.running === run) this.running = null;
    });
    this.running = run;
    return run;
  }

  protected async fsyncOnce(): Promise<void> {
    // Opened lazily: SQLite creates the -wal file at its first write. Read-only is enough for fsync(2).
    this.fd ??= fs.openSync(this.path, "r");
    await fsync(this.fd);
  }

  close(): void {
    if (this.fd !== null) fs.closeSync(this.fd);
    this.fd = null;
  }
}

class StatementCache {
  private readonly cache = new Map<string, SqliteDatabase.Statement>();

  constructor(private readonly db: SqliteDatabase.Database) {}

  get(source: string): SqliteDatabase.Statement {
    const hit = this.cache.get(source);
    // A statement still iterating (a stream) cannot run again until it is done.
    if (hit && !hit.busy) return hit;
    const stmt = this.db.prepare(source);
    if (this.cache.size >= 2000) this.cache.clear();
    this.cache.set(source, stmt);
    return stmt;
  }
}

class DurableSqliteConnection implements DatabaseConnection {
  constructor(
    private readonly db: SqliteDatabase.Database,
    private readonly statements: StatementCache,
    private readonly wal: FileSync,
    private readonly checkpointer: WalCheckpointer,
  ) {}

  async executeQuery<R>(compiled: CompiledQuery): Promise<QueryResult<R>> {
    const stmt = this.statements.get(compiled.sql);
    const params = compiled.parameters as unknown[];
    let result: QueryResult<R>;
    if (stmt.reader) {
      result = { rows: stmt.all(params) as R[] };
    } else {
      const { changes, lastInsertRowid } = stmt.run(params);
      result = { numAffectedRows: BigInt(changes), insertId: BigInt(lastInsertRowid), rows: [] };
    }
    // A write outside a transaction committed by itself (autocommit): durable before it is reported.
    // COMMIT itself is read-only to SQLite (sqlite3_stmt_readonly); commitTransaction handles it.
    if (!stmt.readonly) {
      this.wal.written();
      if (!this.db.inTransaction) {
        this.checkpointer.committed();
        await this.wal.sync();
      }
    }
    return result;
  }

  async *streamQuery<R>(compiled: CompiledQuery): AsyncIterableIterator<QueryResult<R>> {
    const stmt = this.statements.get(compiled.sql);
    if (!stmt.reader) throw new Error("SQLite streams only queries that return rows");
    for (const row of stmt.iterate(compiled.parameters as unknown[])) yield { rows: [row as R] };
  }
}

/** One connection (SQLite has one writer): callers take turns, as in kysely's own SqliteDriver. */
class DurableSqliteDriver implements Driver {
  private connection!: DurableSqliteConnection;
  private queue: Promise<void> = Promise.resolve();
  private release: (() => void) | null = null;

  constructor(
    private readonly db: SqliteDatabase.Database,
    private readonly wal: FileSync,
    private readonly checkpointer: WalCheckpointer,
  ) {}

  async init(): Promise<void> {
    this.connection = new DurableSqliteConnection(
      this.db,
      new StatementCache(this.db),
      this.wal,
      this.checkpointer,
    );
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    const previous = this.queue;
    let release!: () => void;
    this.queue = new Promise<void>((r) => (release = r));
    await previous;
    this.release = release;
    return this.connection;
  }

  async releaseConnection(): Promise<void> {
    const release = this.release;
    this.release = null;
    release?.();
  }

  async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw("begin"));
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw("commit"));
    this.checkpointer.committed();
    await this.wal.sync();
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw("rollback"));
  }

  async destroy(): Promise<void> {
    // The checkpointer's connection first: the last connection to close checkpoints and removes the WAL.
    await this.checkpointer.close();
    this.db.close();
    this.wal.close();
  }
}

export class DurableSqliteDialect implements Dialect {
  readonly wal: FileSync;
  readonly checkpointer: WalCheckpointer;

  constructor(
    private readonly db: SqliteDatabase.Database,
    path: string,
  ) {
    this.wal = new FileSync(`${path}-wal`);
    this.checkpointer = new WalCheckpointer(path);
  }

  createDriver(): Driver {
    return new DurableSqliteDriver(this.db, this.wal, this.checkpointer);
  }

  createQueryCompiler(): QueryCompiler {
    return new SqliteQueryCompiler();
  }

  createAdapter(): DialectAdapter {
    return new SqliteAdapter();
  }

  createIntrospector(db: Kysely<unknown>): DatabaseIntrospector {
    return new SqliteIntrospector(db);
  }
}
