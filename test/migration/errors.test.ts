// Errors a person can act on: a clear message, a distinct exit code, and nothing half-written in the box.
import assert from "node:assert/strict";
import { chmod, readdir } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { freePort } from "../helpers/dovecot.js";
import {
  compareWithTarget,
  createTarget,
  migrate,
  type SourceBox,
  sourceClient,
  startSource,
  TARGET,
  withStore,
} from "../helpers/migration-env.js";

let src: SourceBox;

test.before(async () => {
  src = await startSource({ scale: 0.05, big: 1 });
});
test.after(async () => {
  await src?.dc.stop();
});

async function boxUntouched(dataDir: string): Promise<void> {
  await withStore(dataDir, async (store) => {
    const box = (await store.getMailbox(TARGET))!;
    const folders = await store.listFolders(box.id);
    assert.deepEqual(folders.map((f) => f.name).sort(), ["Drafts", "INBOX", "Junk", "Sent", "Trash"]);
    assert.equal(
      folders.reduce((n, f) => n + f.messages, 0),
      0,
    );
    assert.equal(box.usedBytes, 0);
  });
}

test("a wrong source password says so, suggests an app password for two-factor boxes, exits 3 and writes nothing", async (t) => {
  const target = createTarget();
  t.after(() => target.close());
  const r = await migrate({
    dataDir: target.dataDir,
    from: src.dc.url("src"),
    password: "wrong",
    extra: ["--insecure-tls"],
  });
  assert.equal(r.status, 3, r.stdout + r.stderr);
  assert.equal(r.json.verified, false);
  assert.equal(r.json.error.code, "AUTH_FAILED");
  assert.match(r.json.error.message, /password/i);
  assert.match(r.json.error.message, /password per le app/);
  await boxUntouched(target.dataDir);
});

test("a password typed with a stray space is forgiven", async (t) => {
  const target = createTarget();
  t.after(() => target.close());
  const r = await migrate({
    dataDir: target.dataDir,
    from: src.dc.url("src"),
    password: " pass ",
    extra: ["--insecure-tls"],
  });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.equal(r.json.verified, true);
  assert.equal(r.json.stats.connections, 4, "the other connections log in with the password that worked");
});

test("an unreachable source host exits 4 with a message naming the server", async (t) => {
  const target = createTarget();
  t.after(() => target.close());
  const port = await freePort(); // nothing listens there
  const r = await migrate({ dataDir: target.dataDir, from: `imaps://src@127.0.0.1:${port}` });
  assert.equal(r.status, 4, r.stdout + r.stderr);
  assert.equal(r.json.error.code, "SOURCE_UNREACHABLE");
  assert.match(r.json.error.message, new RegExp(`127\\.0\\.0\\.1:${port}`));
  await boxUntouched(target.dataDir);
});

test("a --connections that is not a whole number from 1 to 32 is refused before any connection (exit 2)", async (t) => {
  const target = createTarget();
  t.after(() => target.close());
  for (const n of ["0", "1.5", "many", "33"]) {
    const r = await migrate({
      dataDir: target.dataDir,
      from: src.dc.url("src"),
      extra: ["--connections", n],
    });
    assert.equal(r.status, 2, r.stdout + r.stderr);
    assert.equal(r.json.error.code, "INVALID_SOURCE");
    assert.match(r.json.error.message, /--connections/);
  }
  await boxUntouched(target.dataDir);
});

test("a self-signed source certificate is refused unless --insecure-tls is given, and the message says how", async (t) => {
  const target = createTarget();
  t.after(() => target.close());
  const r = await migrate({ dataDir: target.dataDir, from: src.dc.url("src", { tls: true }) });
  assert.equal(r.status, 4, r.stdout + r.stderr);
  assert.equal(r.json.error.code, "TLS_UNTRUSTED");
  assert.match(r.json.error.message, /--insecure-tls/);
  await boxUntouched(target.dataDir);
});

test("a box too small for the old messages is refused before anything is written (exit 5)", async (t) => {
  const target = createTarget({ quota: 1_000_000 });
  t.after(() => target.close());
  const r = await migrate({ dataDir: target.dataDir, from: src.dc.url("src"), extra: ["--insecure-tls"] });
  assert.equal(r.status, 5, r.stdout + r.stderr);
  assert.equal(r.json.error.code, "QUOTA_TOO_SMALL");
  assert.match(r.json.error.message, /spazio/);
  await boxUntouched(target.dataDir);
});

test("a box that does not exist here exits 6", async (t) => {
  const target = createTarget();
  t.after(() => target.close());
  const r = await migrate({
    dataDir: target.dataDir,
    from: src.dc.url("src"),
    to: "nessuno@pec.example.it",
    extra: ["--insecure-tls"],
  });
  assert.equal(r.status, 6, r.stdout + r.stderr);
  assert.equal(r.json.error.code, "TARGET_NOT_FOUND");
});

test("a message the source cannot serve is reported, the rest is copied, and a later run completes the copy", async (t) => {
  const target = createTarget();
  t.after(() => target.close());
  // Make one INBOX message unreadable for Dovecot (it still lists it: the index knows it).
  const cur = join(src.dc.maildir("src"), "cur");
  const files = (await readdir(cur)).sort();
  const victim = join(cur, files[3]!);
  await chmod(victim, 0);
  let r: Awaited<ReturnType<typeof migrate>>;
  try {
    r = await migrate({ dataDir: target.dataDir, from: src.dc.url("src"), extra: ["--insecure-tls"] });
  } finally {
    await chmod(victim, 0o600);
  }
  assert.equal(r.status, 1, r.stdout + r.stderr);
  assert.equal(r.json.verified, false);
  const inbox = r.json.folders.find((f: { source: string }) => f.source === "INBOX");
  assert.equal(inbox.failed, 1);
  assert.equal(inbox.copied, inbox.sourceMessages - 1);
  assert.equal(inbox.errors.length >= 1, true);
  assert.equal(r.json.totals.copied, src.corpus.messages - 1);

  const again = await migrate({
    dataDir: target.dataDir,
    from: src.dc.url("src"),
    extra: ["--insecure-tls"],
  });
  assert.equal(again.status, 0, again.stdout + again.stderr);
  assert.equal(again.json.totals.copied, 1);
  assert.deepEqual(await compareWithTarget(src, target.dataDir), []);
});

test("a server that allows one session per box gets one: the copy is whole, the other connections step aside", async (t) => {
  const one = await startSource({ scale: 0.02 }, { maxUserConnections: 1, tls: false });
  t.after(() => one.dc.stop());
  const target = createTarget();
  t.after(() => target.close());
  // While the member's own mail program holds that session, the server is busy, not the password wrong.
  const other = await sourceClient(one.dc);
  const busy = await migrate({ dataDir: target.dataDir, from: one.dc.url("src") });
  await other.logout();
  assert.equal(busy.status, 4, busy.stdout + busy.stderr);
  assert.equal(busy.json.error.code, "SOURCE_UNREACHABLE");
  assert.match(busy.json.error.message, /non accetta ora altre connessioni.*Chiudi i programmi di posta/);
  await boxUntouched(target.dataDir);
  const r = await migrate({
    dataDir: target.dataDir,
    from: one.dc.url("src"),
    extra: ["--connections", "4"],
  });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.equal(r.json.verified, true);
  assert.equal(r.json.totals.copied, one.corpus.messages);
  assert.equal(r.json.stats.connections, 1, "the refused spares are not counted");
  assert.deepEqual(await compareWithTarget(one, target.dataDir), []);
});
