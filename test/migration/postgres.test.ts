// The same copy on PostgreSQL: the ledger lives in the store's database whichever backend it is.
import assert from "node:assert/strict";
import { test } from "node:test";
import { runMigration } from "../../src/migration/engine.js";
import { Ledger } from "../../src/migration/ledger.js";
import { StoreTarget } from "../../src/migration/targets.js";
import { openDatabase } from "../../src/store/database.js";
import { compareMailboxes, imapSide, storeSide } from "../helpers/imap-compare.js";
import { startSource, TARGET } from "../helpers/migration-env.js";
import { createTempStore } from "../helpers/temp-store.js";

test("on PostgreSQL the copy is exact, the ledger sits in the same database, and a re-run copies nothing", async (t) => {
  const src = await startSource({ scale: 0.05, big: 1 });
  const temp = await createTempStore("postgres");
  const { db } = await openDatabase({ url: temp.databaseUrl, sqlitePath: "" });
  t.after(async () => {
    await db.destroy();
    await temp.close();
    await src.dc.stop();
  });
  const box = await temp.store.createMailbox({
    address: TARGET,
    passwordHash: "x",
    quotaBytes: 1e9,
    state: "active",
  });
  const ledger = await Ledger.open(db, { source: "src@test", target: `store:${TARGET}` });
  const source = {
    host: src.dc.host,
    port: src.dc.port,
    secure: false,
    user: "src",
    password: src.dc.password,
    insecureTls: true,
  };
  const first = await runMigration({ source, target: new StoreTarget(temp.store, TARGET), ledger });
  assert.equal(first.verified, true, JSON.stringify(first.error));
  assert.equal(first.totals.copied, src.corpus.messages);
  const again = await runMigration({ source, target: new StoreTarget(temp.store, TARGET), ledger });
  assert.equal(again.verified, true);
  assert.equal(again.totals.copied, 0);
  assert.equal(again.stats.bodiesFetched, 0);
  const a = imapSide({ url: src.dc.url("src"), password: src.dc.password });
  try {
    const diff = await compareMailboxes(a, storeSide(temp.store, box.id), { mapName: src.mapName });
    assert.deepEqual(diff.problems, []);
  } finally {
    await a.close();
  }
});
