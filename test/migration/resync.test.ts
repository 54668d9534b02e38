// Re-sync until the cutover: the same command brings new messages and flag changes over, fetching only
// the new bodies; deletions at the source stay in the box unless --mirror; a folder whose UIDVALIDITY
// changed is matched by content instead of copied again.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  compareWithTarget,
  createTarget,
  migrate,
  sourceClient,
  startSource,
  TARGET,
  withStore,
} from "../helpers/migration-env.js";

test("a re-run brings new messages and flag changes, keeps deletions unless --mirror, and survives a new UIDVALIDITY", async (t) => {
  const src = await startSource({ scale: 0.05, big: 0 });
  const target = createTarget();
  t.after(async () => {
    target.close();
    await src.dc.stop();
  });
  const from = src.dc.url("src");
  const extra = ["--insecure-tls"];
  const first = await migrate({ dataDir: target.dataDir, from, extra });
  assert.equal(first.status, 0, first.stderr);

  const c = await sourceClient(src.dc);
  // Two new messages, flags changed on three, one message deleted.
  for (const n of [1, 2]) {
    await c.append(
      "INBOX",
      Buffer.from(`From: a@example.it\r\nTo: b@pec.example.it\r\nSubject: nuovo ${n}\r\n\r\nciao ${n}\r\n`),
      ["$label1"],
      new Date(Date.UTC(2025, 0, n)),
    );
  }
  let lock = await c.getMailboxLock("INBOX");
  await c.messageFlagsAdd("1:3", ["\\Flagged", "PEC-Consegnata"]);
  await c.messageDelete("5");
  lock.release();
  // Delete and recreate a folder with the same messages: a new UIDVALIDITY (RFC 3501 §2.3.1.1).
  const folder = "Archivio/2024";
  lock = await c.getMailboxLock(folder);
  const saved = [];
  for await (const m of c.fetch("1:*", { source: true, flags: true, internalDate: true })) {
    saved.push({ source: m.source!, flags: [...(m.flags ?? [])], date: new Date(m.internalDate!) });
  }
  lock.release();
  await c.mailboxDelete(folder);
  await c.mailboxCreate(folder);
  for (const m of saved) await c.append(folder, m.source, m.flags, m.date);
  await c.logout();

  const second = await migrate({ dataDir: target.dataDir, from, extra });
  assert.equal(second.status, 0, second.stderr + second.stdout.slice(0, 1500));
  const row = (name: string) => second.json.folders.find((f: { source: string }) => f.source === name);
  assert.equal(row("INBOX").copied, 2, "only the two new messages are copied");
  assert.equal(second.json.stats.flagsUpdated, 3);
  assert.equal(row(folder).copied, 0, "the recreated folder is matched by content");
  assert.equal(row(folder).alreadyPresent, saved.length);
  assert.equal(second.json.stats.bodiesFetched, 2 + saved.length, "new messages + the recreated folder only");
  assert.equal(second.json.totals.copied, 2);
  // Without --mirror the message deleted at the source stays in the box: one extra in INBOX.
  assert.equal(row("INBOX").targetMessages, row("INBOX").sourceMessages + 1);
  const problems = await compareWithTarget(src, target.dataDir);
  // The same single difference, seen over IMAP and in the store.
  assert.equal(problems.length, 2, problems.join("\n"));
  assert.match(problems[0]!, /^over IMAP: folder "INBOX".*0 missing, 1 extra/);
  assert.match(problems[1]!, /^in the store: folder "INBOX".*0 missing, 1 extra/);

  const mirrored = await migrate({ dataDir: target.dataDir, from, extra: [...extra, "--mirror"] });
  assert.equal(mirrored.status, 0, mirrored.stderr);
  assert.equal(mirrored.json.stats.removed, 1);
  assert.equal(mirrored.json.totals.copied, 0);
  assert.deepEqual(await compareWithTarget(src, target.dataDir), []);
  await withStore(target.dataDir, async (store) => {
    const box = (await store.getMailbox(TARGET))!;
    const inbox = (await store.getFolder(box.id, "INBOX"))!;
    assert.equal(inbox.messages, row("INBOX").sourceMessages);
  });
});

test("mail that reached the new box before the copy stays there and is not mistaken for a copied message", async (t) => {
  const src = await startSource({ scale: 0.03, big: 0 });
  const target = createTarget();
  t.after(async () => {
    target.close();
    await src.dc.stop();
  });
  await withStore(target.dataDir, async (store) => {
    const box = (await store.getMailbox(TARGET))!;
    const inbox = (await store.getFolder(box.id, "INBOX"))!;
    await store.appendMessages(box.id, inbox.id, [
      {
        bytes: Buffer.from("From: x@pec.example.it\r\nSubject: arrivata nella nuova casella\r\n\r\nciao\r\n"),
      },
    ]);
  });
  const r = await migrate({ dataDir: target.dataDir, from: src.dc.url("src"), extra: ["--insecure-tls"] });
  assert.equal(r.status, 0, r.stderr + r.stdout.slice(0, 1500));
  const inbox = r.json.folders.find((f: { source: string }) => f.source === "INBOX");
  assert.equal(inbox.copied, inbox.sourceMessages);
  assert.equal(inbox.alreadyPresent, 0);
  assert.equal(inbox.targetMessages, inbox.sourceMessages + 1);
  const problems = await compareWithTarget(src, target.dataDir);
  // The same single difference, seen over IMAP and in the store.
  assert.equal(problems.length, 2, problems.join("\n"));
  assert.match(problems[0]!, /^over IMAP: folder "INBOX".*0 missing, 1 extra/);
  assert.match(problems[1]!, /^in the store: folder "INBOX".*0 missing, 1 extra/);
});
