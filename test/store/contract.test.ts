// The store's contract, run against every backend: SQLite and a real PostgreSQL cluster.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { SqlMailStore } from "../../src/store/sql-mail-store.js";
import { type Mailbox, StoreError } from "../../src/store/types.js";
import { BACKENDS, createTempStore, type TempStore } from "../helpers/temp-store.js";

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

function message(n: number, extraHeaders = "", body = `Body of message ${n}.\r\n`): Buffer {
  return Buffer.from(
    `From: Mario Rossi <mario@example.it>\r\nTo: anna@pec.example.it\r\nSubject: =?UTF-8?Q?Fattura_n=C2=B0_${n}?=\r\n` +
      `Date: Mon, 2 Jan 2023 10:00:00 +0100\r\nMessage-ID: <m${n}@example.it>\r\n${extraHeaders}\r\n${body}`,
  );
}

async function expectStoreError(fn: () => Promise<unknown>, code: StoreError["code"]): Promise<void> {
  await assert.rejects(fn, (err: unknown) => err instanceof StoreError && err.code === code);
}

function countBlobFiles(root: string): number {
  let n = 0;
  if (!existsSync(root)) return 0;
  for (const a of readdirSync(root)) {
    if (a === "tmp") continue;
    for (const b of readdirSync(join(root, a))) n += readdirSync(join(root, a, b)).length;
  }
  return n;
}

// Every backend with small blobs in the database (the default), and SQLite once more with every blob a
// file, so that both tiers of the blob store meet the same contract.
const VARIANTS = [
  ...BACKENDS.map((backend) => ({ backend, inlineMaxBytes: 65536, label: backend })),
  { backend: "sqlite" as const, inlineMaxBytes: 0, label: "sqlite, every blob a file" },
];

for (const { backend, inlineMaxBytes, label } of VARIANTS) {
  describe(`store contract on ${label}`, () => {
    let temp: TempStore;
    let store: SqlMailStore;
    let seq = 0;
    const newBox = (quotaBytes = 1024 ** 3) =>
      store.createMailbox({
        address: `box${++seq}@pec.example.it`,
        passwordHash: "x",
        quotaBytes,
        state: "active",
      });
    const inbox = async (box: Mailbox) => (await store.getFolder(box.id, "INBOX"))!;

    before(async () => {
      temp = await createTempStore(backend, { inlineMaxBytes });
      store = temp.store;
    });
    after(async () => temp.close());

    test("a new box has the standard folders with special-use attributes, waiting for first access by default", async () => {
      const box = await store.createMailbox({
        address: "  Nuova@PEC.Example.it ",
        passwordHash: "h",
        quotaBytes: 1000,
      });
      assert.equal(box.address, "nuova@pec.example.it");
      assert.equal(box.domain, "pec.example.it");
      assert.equal(box.state, "waiting-first-access");
      assert.equal(box.settings.ordinaryMail, "refuse");
      const folders = await store.listFolders(box.id);
      assert.deepEqual(folders.map((f) => [f.name, f.specialUse]).sort(), [
        ["Drafts", "\\Drafts"],
        ["INBOX", null],
        ["Junk", "\\Junk"],
        ["Sent", "\\Sent"],
        ["Trash", "\\Trash"],
      ]);
      assert.equal(new Set(folders.map((f) => f.uidValidity)).size, folders.length);
    });

    test("a duplicate or invalid address is refused and nothing is written", async () => {
      const before = (await store.listMailboxes()).length;
      await store.createMailbox({ address: "dup@pec.example.it", passwordHash: "h", quotaBytes: 1000 });
      await expectStoreError(
        () => store.createMailbox({ address: "DUP@pec.example.it", passwordHash: "h", quotaBytes: 1000 }),
        "DUPLICATE_ADDRESS",
      );
      for (const bad of ["no-at-sign", "a@b", "a b@example.it", "@example.it", "x@-example.it", ""]) {
        await expectStoreError(
          () => store.createMailbox({ address: bad, passwordHash: "h", quotaBytes: 1000 }),
          "INVALID_ADDRESS",
        );
      }
      assert.equal((await store.listMailboxes()).length, before + 1);
    });

    test("10,000 appended messages read back byte-identical with strictly increasing UIDs and MODSEQs and exact quota", async () => {
      const box = await newBox();
      const folder = await inbox(box);
      const hashes: string[] = [];
      let total = 0;
      for (let start = 0; start < 10_000; start += 500) {
        const batch = Array.from({ length: 500 }, (_, i) => {
          const n = start + i;
          // Every 7th message repeats earlier bytes: stored once, counted each time.
          const bytes = n % 7 === 0 ? message(0) : message(n, "", `x`.repeat(n % 300) + "\r\n");
          return {
            bytes,
            flags: n % 2 ? ["\\Seen"] : [],
            internalDate: new Date(1_600_000_000_000 + n * 1000),
          };
        });
        for (const b of batch) {
          hashes.push(sha(b.bytes));
          total += b.bytes.length;
        }
        await store.appendMessages(box.id, folder.id, batch);
      }
      const list = await store.listMessages(folder.id);
      assert.equal(list.length, 10_000);
      for (let i = 0; i < list.length; i++) {
        const m = list[i]!;
        if (i > 0) {
          assert.ok(m.uid > list[i - 1]!.uid, "UIDs strictly increasing");
          assert.ok(m.modseq > list[i - 1]!.modseq, "MODSEQs strictly increasing");
        }
        assert.equal(m.blobId, hashes[i]);
        assert.equal(m.internalDate.getTime(), 1_600_000_000_000 + i * 1000);
      }
      for (let i = 0; i < list.length; i += 97) {
        assert.equal(sha(await store.readBlob(list[i]!.blobId)), hashes[i]);
      }
      assert.equal((await store.quota(box.id)).usedBytes, total);
      assert.equal(
        list.reduce((n, m) => n + m.size, 0),
        total,
      );
      const after = (await store.getFolderById(folder.id))!;
      assert.equal(after.messages, 10_000);
      assert.equal(after.uidNext, list.at(-1)!.uid + 1);
      assert.equal(after.highestModseq, list.at(-1)!.modseq);
    });

    test("identical bytes are stored once however many messages reference them", async () => {
      const box = await newBox();
      const folder = await inbox(box);
      const bytes = message(424242, "X-Unique: dedupe\r\n");
      const stored = async () =>
        countBlobFiles(join(temp.dataDir, "blobs")) + (await store.blobCounts()).inline;
      const before = await stored();
      await store.appendMessages(box.id, folder.id, [{ bytes }, { bytes }]);
      await store.appendMessages(box.id, (await store.getFolder(box.id, "Sent"))!.id, [{ bytes }]);
      await store.blobs.put(bytes);
      assert.equal(await stored(), before + 1);
      assert.equal((await store.quota(box.id)).usedBytes, bytes.length * 3);
    });

    test("header fields a list view needs are extracted at append, encoded words decoded", async () => {
      const box = await newBox();
      const folder = await inbox(box);
      await store.appendMessages(box.id, folder.id, [
        {
          bytes: message(7, "X-Ricevuta: accettazione\r\nX-Riferimento-Message-ID: <orig@example.it>\r\n"),
          pecId: "opec.20260101.1@pec.example.it",
        },
      ]);
      const [m] = await store.listMessages(folder.id);
      assert.equal(m!.subject, "Fattura n° 7");
      assert.equal(m!.from, "Mario Rossi <mario@example.it>");
      assert.equal(m!.messageId, "<m7@example.it>");
      assert.equal(m!.pecType, "accettazione");
      assert.equal(m!.pecRef, "<orig@example.it>");
      assert.equal(m!.pecId, "opec.20260101.1@pec.example.it");
      assert.equal(m!.date?.toISOString(), "2023-01-02T09:00:00.000Z");
    });

    test("an append over quota is refused whole and changes nothing", async () => {
      const box = await newBox(1000);
      const folder = await inbox(box);
      await store.appendMessages(box.id, folder.id, [{ bytes: Buffer.alloc(600, 97) }]);
      const before = (await store.getFolderById(folder.id))!;
      await expectStoreError(
        () =>
          store.appendMessages(box.id, folder.id, [
            { bytes: Buffer.alloc(300, 98) },
            { bytes: Buffer.alloc(300, 99) },
          ]),
        "OVER_QUOTA",
      );
      assert.deepEqual(await store.getFolderById(folder.id), before);
      assert.equal((await store.quota(box.id)).usedBytes, 600);
      assert.equal((await store.listMessages(folder.id)).length, 1);
      // Exactly filling the quota is allowed.
      await store.appendMessages(box.id, folder.id, [{ bytes: Buffer.alloc(400, 100) }]);
      assert.equal((await store.quota(box.id)).usedBytes, 1000);
    });

    test("bad input to append (unknown system flag, invalid keyword, invalid date, empty batch) changes nothing", async () => {
      const box = await newBox();
      const folder = await inbox(box);
      await expectStoreError(
        () => store.appendMessages(box.id, folder.id, [{ bytes: message(1), flags: ["\\Bogus"] }]),
        "INVALID_INPUT",
      );
      await expectStoreError(
        () => store.appendMessages(box.id, folder.id, [{ bytes: message(1), flags: ["bad(kw"] }]),
        "INVALID_INPUT",
      );
      await expectStoreError(
        () =>
          store.appendMessages(box.id, folder.id, [{ bytes: message(1), internalDate: new Date("nope") }]),
        "INVALID_INPUT",
      );
      await expectStoreError(() => store.appendMessages(box.id, folder.id, []), "INVALID_INPUT");
      await expectStoreError(
        () => store.appendMessages(box.id, 999_999, [{ bytes: message(1) }]),
        "NO_SUCH_FOLDER",
      );
      assert.equal((await store.listMessages(folder.id)).length, 0);
      assert.equal((await store.quota(box.id)).usedBytes, 0);
    });

    test("flags are added, removed and replaced, each change bumping MODSEQ; UNCHANGEDSINCE reports conflicts", async () => {
      const box = await newBox();
      const folder = await inbox(box);
      await store.appendMessages(
        box.id,
        folder.id,
        [1, 2, 3].map((n) => ({ bytes: message(n) })),
      );
      const r1 = await store.storeFlags(folder.id, {
        uids: [1, 2],
        mode: "add",
        flags: ["\\seen", "$Label1", "\\Recent"],
      });
      assert.deepEqual(
        r1.updated.map((u) => u.flags),
        [
          ["$Label1", "\\Seen"],
          ["$Label1", "\\Seen"],
        ],
      );
      const m2 = r1.updated[1]!.modseq;
      const r2 = await store.storeFlags(folder.id, { uids: [1, 2, 3], mode: "add", flags: ["\\Seen"] });
      assert.deepEqual(
        r2.updated.map((u) => u.uid),
        [3],
        "unchanged messages are not touched",
      );
      assert.ok(r2.updated[0]!.modseq > m2);
      const r3 = await store.storeFlags(folder.id, { uids: [1], mode: "remove", flags: ["$label1"] });
      assert.deepEqual(r3.updated[0]!.flags, ["\\Seen"]);
      const r4 = await store.storeFlags(folder.id, {
        uids: [1, 2],
        mode: "replace",
        flags: ["\\Flagged"],
        unchangedSince: m2,
      });
      assert.deepEqual(r4.modified, [1]);
      assert.deepEqual(
        r4.updated.map((u) => [u.uid, u.flags]),
        [[2, ["\\Flagged"]]],
      );
      const changed = await store.listMessages(folder.id, { changedSince: m2 });
      assert.deepEqual(
        changed.map((m) => m.uid),
        [1, 2, 3],
      );
    });

    test("copy gives new UIDs in order with a COPYUID mapping and charges quota; a copy over quota writes nothing", async () => {
      const box = await newBox(10_000);
      const src = await inbox(box);
      const dst = (await store.getFolder(box.id, "Trash"))!;
      await store.appendMessages(
        box.id,
        src.id,
        [1, 2, 3].map((n) => ({ bytes: message(n), flags: ["$K"] })),
      );
      const used = (await store.quota(box.id)).usedBytes;
      const res = await store.copyMessages(src.id, [3, 1], dst.id);
      assert.equal(res.uidValidity, dst.uidValidity);
      assert.deepEqual(res.mapping, [
        { sourceUid: 1, targetUid: 1 },
        { sourceUid: 3, targetUid: 2 },
      ]);
      const copied = await store.listMessages(dst.id);
      assert.deepEqual(
        copied.map((m) => m.flags),
        [["$K"], ["$K"]],
      );
      assert.equal((await store.quota(box.id)).usedBytes, used + message(1).length + message(3).length);
      const small = await newBox(used + 10);
      const s2 = await inbox(small);
      await store.appendMessages(
        small.id,
        s2.id,
        [1, 2, 3].map((n) => ({ bytes: message(n) })),
      );
      const t2 = (await store.getFolder(small.id, "Trash"))!;
      await expectStoreError(() => store.copyMessages(s2.id, [1], t2.id), "OVER_QUOTA");
      assert.equal((await store.listMessages(t2.id)).length, 0);
      assert.equal((await store.getFolderById(t2.id))!.uidNext, 1);
    });

    test("move leaves tombstones the source can report as VANISHED, and keeps quota unchanged", async () => {
      const box = await newBox();
      const src = await inbox(box);
      const dst = (await store.getFolder(box.id, "Sent"))!;
      await store.appendMessages(
        box.id,
        src.id,
        [1, 2, 3, 4].map((n) => ({ bytes: message(n) })),
      );
      const used = (await store.quota(box.id)).usedBytes;
      const modseqBefore = (await store.getFolderById(src.id))!.highestModseq;
      const res = await store.moveMessages(src.id, [2, 4], dst.id);
      assert.deepEqual(
        res.mapping.map((m) => m.sourceUid),
        [2, 4],
      );
      assert.deepEqual(
        (await store.listMessages(src.id)).map((m) => m.uid),
        [1, 3],
      );
      assert.deepEqual(await store.expungedSince(src.id, modseqBefore), [2, 4]);
      assert.equal((await store.quota(box.id)).usedBytes, used);
      assert.equal((await store.getFolderById(src.id))!.messages, 2);
      assert.equal((await store.getFolderById(dst.id))!.messages, 2);
    });

    test("expunge removes only \\Deleted messages (only the given UIDs when asked) and frees their quota", async () => {
      const box = await newBox();
      const f = await inbox(box);
      await store.appendMessages(
        box.id,
        f.id,
        [1, 2, 3, 4].map((n) => ({ bytes: message(n) })),
      );
      await store.storeFlags(f.id, { uids: [1, 2, 4], mode: "add", flags: ["\\Deleted"] });
      assert.deepEqual(await store.expunge(f.id, { uids: [2, 3] }), [2]);
      assert.deepEqual(await store.expunge(f.id), [1, 4]);
      const left = await store.listMessages(f.id);
      assert.deepEqual(
        left.map((m) => m.uid),
        [3],
      );
      assert.equal((await store.quota(box.id)).usedBytes, left[0]!.size);
      assert.deepEqual(await store.expunge(f.id), []);
    });

    test("folders are created, renamed with their children, subscribed, and deleted; INBOX is special", async () => {
      const box = await newBox();
      const a = await store.createFolder(box.id, "Archivio àè");
      await store.createFolder(box.id, "Archivio àè/2024");
      await store.createFolder(box.id, "Archivio àè/2024/Q4");
      await store.appendMessages(box.id, a.id, [{ bytes: message(1) }]);
      await expectStoreError(() => store.createFolder(box.id, "Archivio àè"), "FOLDER_EXISTS");
      await expectStoreError(() => store.createFolder(box.id, "bad//name"), "INVALID_FOLDER_NAME");
      await store.renameFolder(box.id, "Archivio àè", "Clienti & Fornitori");
      const names = (await store.listFolders(box.id)).map((f) => f.name);
      assert.ok(names.includes("Clienti & Fornitori/2024/Q4"));
      assert.ok(!names.some((n) => n.startsWith("Archivio")));
      assert.equal((await store.getFolder(box.id, "Clienti & Fornitori"))!.uidValidity, a.uidValidity);
      await expectStoreError(
        () => store.renameFolder(box.id, "Clienti & Fornitori", "Clienti & Fornitori/x"),
        "INVALID_FOLDER_NAME",
      );
      await expectStoreError(() => store.renameFolder(box.id, "Sent", "Trash"), "FOLDER_EXISTS");
      await store.setSubscribed(box.id, "Clienti & Fornitori/2024", false);
      assert.equal((await store.getFolder(box.id, "Clienti & Fornitori/2024"))!.subscribed, false);
      // RFC 3501 §6.3.5: renaming INBOX moves its messages and leaves it empty.
      const ib = await inbox(box);
      await store.appendMessages(box.id, ib.id, [{ bytes: message(2) }, { bytes: message(3) }]);
      await store.renameFolder(box.id, "inbox", "Old inbox");
      assert.equal((await store.listMessages(ib.id)).length, 0);
      assert.equal((await store.listMessages((await store.getFolder(box.id, "Old inbox"))!.id)).length, 2);
      await expectStoreError(() => store.deleteFolder(box.id, "INBOX"), "CANNOT_DELETE_INBOX");
      const usedBefore = (await store.quota(box.id)).usedBytes;
      await store.deleteFolder(box.id, "Clienti & Fornitori");
      assert.equal((await store.quota(box.id)).usedBytes, usedBefore - message(1).length);
      const recreated = await store.createFolder(box.id, "Clienti & Fornitori");
      assert.notEqual(
        recreated.uidValidity,
        a.uidValidity,
        "RFC 3501 §2.3.1.1: a recreated folder gets a new UIDVALIDITY",
      );
    });

    test("every change is logged and announced after commit, in order", async () => {
      const box = await newBox();
      const f = await inbox(box);
      const start = (await store.changesSince(box.id, 0)).at(-1)?.id ?? 0;
      const heard: string[] = [];
      const readable: Promise<boolean>[] = [];
      const off = store.onChange((e) => {
        if (e.mailboxId !== box.id) return;
        // Listeners are called in commit order, synchronously after the commit…
        heard.push(e.changes.map((c) => c.kind).join(","));
        // …so what they are told about is already readable (from any connection).
        for (const c of e.changes) {
          readable.push(store.changesSince(box.id, c.id - 1).then((r) => r.some((x) => x.id === c.id)));
        }
      });
      await store.appendMessages(box.id, f.id, [{ bytes: message(1) }, { bytes: message(2) }]);
      assert.deepEqual(heard, ["append,append"], "announced before the call returns");
      await store.storeFlags(f.id, { uids: [1], mode: "add", flags: ["\\Deleted"] });
      await store.expunge(f.id);
      off();
      assert.deepEqual(heard, ["append,append", "flags", "expunge"]);
      assert.deepEqual(await Promise.all(readable), [true, true, true, true]);
      const log = await store.changesSince(box.id, start);
      assert.deepEqual(
        log.map((c) => [c.kind, c.uid]),
        [
          ["append", 1],
          ["append", 2],
          ["flags", 1],
          ["expunge", 1],
        ],
      );
      assert.ok(log.every((c, i) => i === 0 || c.id > log[i - 1]!.id));
    });

    test("concurrent appends to one folder get distinct UIDs and the quota counts every byte", async () => {
      const box = await newBox();
      const f = await inbox(box);
      await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          store.appendMessages(box.id, f.id, [{ bytes: message(1000 + i) }, { bytes: message(2000 + i) }]),
        ),
      );
      const list = await store.listMessages(f.id);
      assert.equal(list.length, 40);
      assert.equal(new Set(list.map((m) => m.uid)).size, 40);
      assert.equal(new Set(list.map((m) => m.modseq)).size, 40);
      assert.equal(
        (await store.quota(box.id)).usedBytes,
        list.reduce((n, m) => n + m.size, 0),
      );
    });

    test("settings, state and password are updated; admins are unique", async () => {
      const box = await newBox();
      const s = await store.updateSettings(box.id, { ordinaryMail: "forward", forwardTo: "me@example.com" });
      assert.deepEqual(s, { ordinaryMail: "forward", forwardTo: "me@example.com" });
      await store.setMailboxState(box.id, "deactivated");
      await store.setPasswordHash(box.id, "new-hash");
      const again = (await store.getMailboxById(box.id))!;
      assert.equal(again.state, "deactivated");
      assert.equal(again.passwordHash, "new-hash");
      await store.createAdmin("admin@opi.example.it", "h");
      await expectStoreError(() => store.createAdmin("ADMIN@opi.example.it", "h"), "DUPLICATE_ADDRESS");
      await store.addDomain("pec.example.it", "OPI Example");
      await store.addDomain("pec.example.it", "OPI Example");
      assert.deepEqual(await store.listDomains(), ["pec.example.it"]);
    });
  });
}

for (const backend of BACKENDS) {
  test(`on ${backend}, changes committed by another process reach this process's listeners once`, async () => {
    const { openStore } = await import("../../src/store/open.js");
    const temp = await createTempStore(backend);
    // A second store on the same data: what `domicilio migrate` beside `serve` is.
    const other = await openStore({
      dataDir: temp.dataDir,
      config: {
        database: { url: temp.databaseUrl },
        blobs: { path: "blobs", fsync: true, inlineMaxBytes: 65536 },
      },
    });
    try {
      const box = await temp.store.createMailbox({
        address: "x@pec.example.it",
        passwordHash: "h",
        quotaBytes: 1e6,
        state: "active",
      });
      const f = (await temp.store.getFolder(box.id, "INBOX"))!;
      const stop = await temp.store.followExternalChanges(20);
      const heard: number[] = [];
      temp.store.onChange((e) => heard.push(...e.changes.map((c) => c.uid ?? -1)));
      await other.appendMessages(box.id, f.id, [
        { bytes: Buffer.from("Subject: a\r\n\r\na") },
        { bytes: Buffer.from("Subject: b\r\n\r\nb") },
      ]);
      await temp.store.appendMessages(box.id, f.id, [{ bytes: Buffer.from("Subject: c\r\n\r\nc") }]);
      for (let i = 0; i < 200 && heard.length < 3; i++) await new Promise((r) => setTimeout(r, 20));
      await new Promise((r) => setTimeout(r, 100));
      stop();
      assert.deepEqual(heard.sort(), [1, 2, 3], "each change announced exactly once");
    } finally {
      await other.close();
      await temp.close();
    }
  });
}
