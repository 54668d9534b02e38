// The copy against a real Dovecot (Debian's dovecot-imapd): the generated box arrives byte-identical,
// checked by an oracle that reads both sides over IMAP (a real `domicilio serve` on the data folder) and
// re-hashes what the store gives back.
import assert from "node:assert/strict";
import { test } from "node:test";
import { compareMailboxes, imapSide } from "../helpers/imap-compare.js";
import {
  compareWithTarget,
  createTarget,
  migrate,
  startSource,
  TARGET,
  withStore,
} from "../helpers/migration-env.js";

const CONTRACT_FOLDER_KEYS = [
  "source",
  "target",
  "sourceMessages",
  "copied",
  "alreadyPresent",
  "failed",
  "targetMessages",
];

test("a whole box (~2,000 messages, ~140 MB, 13 folders) arrives byte-identical with flags, keywords and dates; a second run copies nothing", async (t) => {
  const src = await startSource({ scale: 1 });
  const target = createTarget();
  t.after(async () => {
    target.close();
    await src.dc.stop();
  });
  assert.ok(src.corpus.messages >= 2000, `corpus has ${src.corpus.messages} messages`);
  assert.ok(src.corpus.bytes > 120e6, `corpus has ${src.corpus.bytes} bytes`);
  if (src.corpus.pecSamples === 0)
    console.warn("../shared/pec-samples missing: no real PEC messages in this run");

  const first = await migrate({
    dataDir: target.dataDir,
    from: src.dc.url("src"),
    extra: ["--insecure-tls"],
  });
  assert.equal(first.status, 0, first.stderr + first.stdout.slice(0, 2000));
  const r = first.json;
  assert.equal(r.verified, true);
  for (const key of ["folders", "totals", "verified", "seconds"]) assert.ok(key in r, `report has ${key}`);
  for (const f of r.folders) for (const key of CONTRACT_FOLDER_KEYS) assert.ok(key in f, `folder has ${key}`);
  assert.equal(r.totals.sourceMessages, src.corpus.messages);
  assert.equal(r.totals.copied, src.corpus.messages);
  assert.equal(r.totals.failed, 0);
  assert.equal(r.totals.bytes, src.corpus.bytes);
  for (const f of src.corpus.folders) {
    const row = r.folders.find((x: { target: string }) => x.target === f.expectedTarget);
    assert.ok(row, `a row for ${f.expectedTarget}`);
    assert.equal(row.sourceMessages, f.messages, f.expectedTarget);
    assert.equal(row.targetMessages, f.messages, f.expectedTarget);
  }
  assert.deepEqual(await compareWithTarget(src, target.dataDir), []);

  await withStore(target.dataDir, async (store) => {
    const box = (await store.getMailbox(TARGET))!;
    const folders = await store.listFolders(box.id);
    const byName = new Map(folders.map((f) => [f.name, f]));
    assert.ok(byName.has("Archivio"), "the \\Noselect parent exists as a folder");
    assert.equal(byName.get("Vuota")?.messages, 0, "the empty folder exists");
    assert.equal(byName.get("Vuota")?.subscribed, false, "unsubscribed stays unsubscribed");
    assert.equal(byName.get("Clienti & Fornitori")?.subscribed, true, "subscriptions are kept");
    assert.equal(byName.get("Sent")?.specialUse, "\\Sent");
  });

  const second = await migrate({
    dataDir: target.dataDir,
    from: src.dc.url("src"),
    extra: ["--insecure-tls"],
  });
  assert.equal(second.status, 0, second.stderr);
  assert.equal(second.json.verified, true);
  assert.equal(second.json.totals.copied, 0);
  assert.equal(second.json.totals.alreadyPresent, src.corpus.messages);
  assert.equal(second.json.stats.bodiesFetched, 0, "no message body is fetched again");
  assert.deepEqual(await compareWithTarget(src, target.dataDir), []);
});

test("Aruba-style folders (INBOX. prefix, '.' separator, no special-use) land under our names: INBOX.Inviata becomes Sent", async (t) => {
  const src = await startSource({ scale: 0.1, aruba: true });
  const target = createTarget();
  t.after(async () => {
    target.close();
    await src.dc.stop();
  });
  // Implicit TLS with a self-signed certificate, accepted because asked to.
  const run = await migrate({
    dataDir: target.dataDir,
    from: src.dc.url("src", { tls: true }),
    extra: ["--insecure-tls"],
  });
  assert.equal(run.status, 0, run.stderr + run.stdout.slice(0, 2000));
  const pairs = Object.fromEntries(
    run.json.folders.map((f: { source: string; target: string }) => [f.source, f.target]),
  );
  assert.equal(pairs["INBOX.Inviata"], "Sent");
  assert.equal(pairs["INBOX.Bozze"], "Drafts");
  assert.equal(pairs["INBOX.Cestino"], "Trash");
  assert.equal(pairs["INBOX.Spam"], "Junk");
  assert.equal(pairs["INBOX.Archivio.2024.Q4"], "Archivio/2024/Q4");
  assert.equal(pairs["INBOX.Clienti & Fornitori.Rossi SpA"], "Clienti & Fornitori/Rossi SpA");
  assert.deepEqual(await compareWithTarget(src, target.dataDir), []);
});

test("between two IMAP servers (--to imap://…) the copy is exact too, and a second run copies nothing", async (t) => {
  const src = await startSource({ scale: 0.08, big: 1 });
  const target = createTarget();
  t.after(async () => {
    target.close();
    await src.dc.stop();
  });
  const to = src.dc.url("dst");
  const env = { DOMICILIO_TARGET_PASSWORD: src.dc.password };
  const run = await migrate(
    { dataDir: target.dataDir, from: src.dc.url("src"), to, extra: ["--insecure-tls"] },
    { env },
  );
  assert.equal(run.status, 0, run.stderr + run.stdout.slice(0, 2000));
  assert.equal(run.json.totals.copied, src.corpus.messages);
  const a = imapSide({ url: src.dc.url("src"), password: src.dc.password });
  const b = imapSide({ url: to, password: src.dc.password });
  try {
    const diff = await compareMailboxes(a, b, { mapName: src.mapName });
    assert.deepEqual(diff.problems, []);
  } finally {
    await a.close();
    await b.close();
  }
  const again = await migrate(
    { dataDir: target.dataDir, from: src.dc.url("src"), to, extra: ["--insecure-tls"] },
    { env },
  );
  assert.equal(again.status, 0, again.stderr);
  assert.equal(again.json.totals.copied, 0);
  assert.equal(again.json.stats.bodiesFetched, 0);
});
