// Group commit on SQLite: transactions asked for together share one COMMIT, each in its own SAVEPOINT, so
// one that throws is rolled back alone and every caller hears success only once its writes are committed.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import Database from "better-sqlite3";
import { openDatabase } from "../../src/store/database.js";
import { GroupCommit } from "../../src/store/group-commit.js";
import { type Kysely, sql } from "../../src/store/kysely.js";

const dir = mkdtempSync(join(tmpdir(), "domicilio-group-commit-"));
after(() => rmSync(dir, { recursive: true, force: true }));

test("transactions asked for together commit together, a failing one is rolled back alone, and each caller hears after its COMMIT", async () => {
  const path = join(dir, "g.sqlite");
  const { db } = await openDatabase({ sqlitePath: path });
  const k = db as unknown as Kysely<{ t: { x: number } }>;
  await sql`create table t (x integer not null)`.execute(k);
  const group = new GroupCommit(k);
  const reader = new Database(path, { readonly: true });
  const seen = () => (reader.prepare("select x from t order by x").all() as { x: number }[]).map((r) => r.x);

  const insert = (x: number, fail = false) =>
    group.run(async (trx) => {
      await trx.insertInto("t").values({ x }).execute();
      if (fail) throw new Error(`refused ${x}`);
      return x;
    });
  const observed: number[][] = [];
  const runs = [insert(1), insert(2, true), insert(3), insert(4)].map((p) =>
    p.then(
      (v) => {
        observed.push(seen());
        return v;
      },
      (err: Error) => err.message,
    ),
  );
  assert.deepEqual(await Promise.all(runs), [1, "refused 2", 3, 4]);
  // Whoever heard success could already read its own row from another connection: committed first.
  for (const rows of observed) assert.deepEqual(rows, [1, 3, 4]);
  assert.deepEqual(seen(), [1, 3, 4]);

  // A lone transaction that throws leaves nothing behind either.
  await assert.rejects(insert(5, true), /refused 5/);
  assert.deepEqual(seen(), [1, 3, 4]);
  reader.close();
  await db.destroy();
});
