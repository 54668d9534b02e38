// The WAL is copied back into the database file by the checkpointer's own connection on a worker thread
// (src/store/wal-checkpointer.ts), not by the writer's COMMIT on the event loop. Real files, a real
// worker and real SQLite connections; what is checked is what SQLite reports and what is on disk.
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import SqliteDatabase from "better-sqlite3";
import { openDatabase } from "../../src/store/database.js";
import { Kysely, sql } from "../../src/store/kysely.js";
import { DurableSqliteDialect } from "../../src/store/sqlite-driver.js";
import { WRITER_AUTOCHECKPOINT_PAGES } from "../../src/store/wal-checkpointer.js";

test("commits are checkpointed by the worker's connection, and closing leaves no WAL behind", async () => {
  const dir = mkdtempSync(join(tmpdir(), "domicilio-ckpt-"));
  try {
    const path = join(dir, "db.sqlite");
    const sqlite = new SqliteDatabase(path);
    sqlite.pragma("journal_mode = WAL");
    sqlite.pragma("synchronous = NORMAL");
    // The writer never checkpoints by itself in this test: whatever reaches the file came from the worker.
    sqlite.pragma("wal_autocheckpoint = 0");
    const dialect = new DurableSqliteDialect(sqlite, path);
    const db = new Kysely<{ t: { id: number; body: string } }>({ dialect });
    await sql`create table t (id integer primary key, body text not null)`.execute(db);
    const sizeBefore = statSync(path).size;
    const body = "x".repeat(3000);
    for (let i = 0; i < 100; i++)
      await db.transaction().execute((trx) => trx.insertInto("t").values({ id: i, body }).execute());
    await dialect.checkpointer.settled();
    assert.ok(dialect.checkpointer.count >= 1, `checkpoints run: ${dialect.checkpointer.count}`);
    assert.equal(dialect.checkpointer.lastError, null);
    assert.ok((dialect.checkpointer.last?.checkpointed ?? 0) > 0, "frames copied into the database file");
    assert.ok(statSync(path).size > sizeBefore + 50 * 3000, "the rows' pages are in the database file");
    await db.destroy();
    assert.equal(existsSync(`${path}-wal`), false, "the writer closed last: it removed the WAL");
    const reread = new SqliteDatabase(path, { readonly: true });
    assert.equal((reread.prepare("select count(*) as n from t").get() as { n: number }).n, 100);
    reread.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the store's writer keeps its own automatic checkpoint only as a far safety net", async () => {
  const dir = mkdtempSync(join(tmpdir(), "domicilio-ckpt-"));
  try {
    const opened = await openDatabase({ sqlitePath: join(dir, "db.sqlite") });
    const r = await sql<{ wal_autocheckpoint: number }>`pragma wal_autocheckpoint`.execute(opened.db);
    assert.equal(r.rows[0]?.wal_autocheckpoint, WRITER_AUTOCHECKPOINT_PAGES);
    await opened.db.destroy();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
