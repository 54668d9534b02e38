// What the web page will show: the states in order, counts that rise to the total, a row per folder.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { MigrationEvent } from "../../src/migration/engine.js";
import { MigrationJob } from "../../src/migration/job.js";
import { Ledger } from "../../src/migration/ledger.js";
import { StoreTarget } from "../../src/migration/targets.js";
import { startSource, TARGET } from "../helpers/migration-env.js";
import { createTempStore } from "../helpers/temp-store.js";

test("a migration job goes In preparazione → Copia in corso → Copiato with progress rising to the total", async (t) => {
  const src = await startSource({ scale: 0.05, big: 1 });
  const temp = await createTempStore("sqlite");
  const ledger = await Ledger.openFile(`${temp.dataDir}/ledger.sqlite`, {
    source: "src@test",
    target: TARGET,
  });
  t.after(async () => {
    await ledger.close();
    await temp.close();
    await src.dc.stop();
  });
  await temp.store.createMailbox({ address: TARGET, passwordHash: "x", quotaBytes: 1e9, state: "active" });
  const job = new MigrationJob();
  const labels: string[] = [];
  const done: number[] = [];
  job.on("event", (e: MigrationEvent) => {
    if (e.type === "state") labels.push(e.label);
    if (e.type === "progress") done.push(e.messagesDone);
  });
  const report = await job.start({
    source: {
      host: src.dc.host,
      port: src.dc.port,
      secure: false,
      user: "src",
      password: src.dc.password,
      insecureTls: true,
    },
    target: new StoreTarget(temp.store, TARGET),
    ledger,
  });
  assert.equal(report.verified, true);
  assert.deepEqual(labels, ["In preparazione", "Copia in corso", "Copiato"]);
  assert.deepEqual(
    done,
    [...done].sort((a, b) => a - b),
    "progress never goes back",
  );
  const snap = job.snapshot();
  assert.equal(snap.label, "Copiato");
  assert.equal(snap.messagesDone, src.corpus.messages);
  assert.equal(snap.messagesTotal, src.corpus.messages);
  assert.equal(snap.bytesDone, src.corpus.bytes);
  assert.equal(snap.folders.length, src.corpus.folders.length, "one row per copied folder");
});
