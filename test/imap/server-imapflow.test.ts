// The in-process server driven by imapflow over several connections: what one connection does, the
// others see (IDLE, NOOP), and the core commands work on the real store.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { ImapFlow } from "imapflow";
import { PASSWORD, startTestImap, type TestImap, USER } from "../helpers/imap-server.js";
import { BACKENDS } from "../helpers/temp-store.js";

let t: TestImap;
const clients: ImapFlow[] = [];

async function client(options: { secure?: boolean; qresync?: boolean } = {}): Promise<ImapFlow> {
  const c = new ImapFlow({
    host: "127.0.0.1",
    port: options.secure ? t.tlsPort : t.port,
    secure: options.secure ?? false,
    auth: { user: USER, pass: PASSWORD },
    logger: false,
    tls: { rejectUnauthorized: false },
    ...(options.qresync ? { qresync: true } : {}),
  });
  c.on("error", () => {});
  await c.connect();
  clients.push(c);
  return c;
}

function message(subject: string, body = "Corpo del messaggio.\r\n"): Buffer {
  return Buffer.from(
    `From: Mario Rossi <mario.rossi@pec.example.it>\r\nTo: avv.bianchi@pec.example.it\r\nSubject: ${subject}\r\nDate: Mon, 20 Nov 2023 10:00:00 +0100\r\nMessage-ID: <${subject.replace(/\W/g, "")}@example.it>\r\n\r\n${body}`,
  );
}

function must<T>(x: T | false | undefined | null): T {
  assert.ok(x, "the server answered");
  return x;
}

/** Resolves with the first event of `name` that satisfies `pred`. */
function nextEvent<T>(c: ImapFlow, name: string, pred: (e: T) => boolean = () => true): Promise<T> {
  return new Promise((resolve) => {
    const on = (e: T) => {
      if (!pred(e)) return;
      c.off(name, on);
      resolve(e);
    };
    c.on(name, on);
  });
}

// The same conversations on both store backends.
for (const backend of BACKENDS) {
  describe(`on ${backend}`, () => {
    before(async () => {
      clients.length = 0;
      t = await startTestImap({ backend });
    });
    after(async () => {
      for (const c of clients) await c.logout().catch(() => c.close());
      await t.close();
    });

    test("a message appended with flags and a date comes back byte for byte with APPENDUID", async () => {
      const c = await client();
      const bytes = message("Byte esatti", "riga uno\r\nriga due con 8 bit: caff\xe8\r\n");
      const res = await c.append(
        "INBOX",
        bytes,
        ["\\Flagged", "$Etichetta"],
        new Date("2023-11-20T09:00:00Z"),
      );
      assert.ok(res && typeof res.uid === "number" && res.uid > 0, "APPENDUID gives the uid");
      const lock = await c.getMailboxLock("INBOX");
      try {
        const m = await c.fetchOne(
          String(res.uid),
          { source: true, flags: true, internalDate: true, size: true },
          { uid: true },
        );
        assert.ok(m);
        assert.ok(m.source!.equals(bytes));
        assert.equal(m.size, bytes.length);
        // \Recent is per session and not stored (RFC 3501 §2.3.2).
        assert.deepEqual([...m.flags!].filter((f) => f !== "\\Recent").sort(), ["$Etichetta", "\\Flagged"]);
        assert.equal(new Date(m.internalDate!).toISOString(), "2023-11-20T09:00:00.000Z");
      } finally {
        lock.release();
      }
    });

    test("IDLE on one connection sees another connection's APPEND, flag change and EXPUNGE", async () => {
      const watcher = await client();
      const actor = await client();
      await watcher.mailboxOpen("INBOX");
      await actor.mailboxOpen("INBOX");
      const before = watcher.mailbox && typeof watcher.mailbox === "object" ? watcher.mailbox.exists : 0;

      // imapflow enters IDLE by itself when the connection is quiet.
      const exists = nextEvent<{ count: number }>(watcher, "exists", (e) => e.count === before + 1);
      const appended = must(await actor.append("INBOX", message("Nuovo arrivo")));
      assert.equal((await exists).count, before + 1);

      const flags = nextEvent<{ uid?: number; flags: Set<string> }>(watcher, "flags", (e) =>
        e.flags.has("\\Seen"),
      );
      await actor.messageFlagsAdd(String(appended.uid), ["\\Seen"], { uid: true });
      const f = await flags;
      assert.ok(f.flags.has("\\Seen"));

      const expunge = nextEvent<{ seq: number }>(watcher, "expunge");
      await actor.messageDelete(String(appended.uid), { uid: true });
      const e = await expunge;
      assert.equal(e.seq, before + 1);
      const status = must(await watcher.status("INBOX", { messages: true }));
      assert.equal(status.messages, before);
    });

    test("COPY and MOVE answer COPYUID and the source connection sees the move as an expunge", async () => {
      const c = await client();
      await c.mailboxCreate("Archivio");
      await c.append("INBOX", message("Da spostare"));
      await c.append("INBOX", message("Da copiare"));
      await c.mailboxOpen("INBOX");
      const [toMove] = must(await c.search({ subject: "Da spostare" }, { uid: true }));
      const [toCopy] = must(await c.search({ subject: "Da copiare" }, { uid: true }));
      assert.ok(toMove && toCopy);
      const copied = await c.messageCopy(String(toCopy), "Archivio", { uid: true });
      assert.ok(copied && copied.uidMap?.size === 1, "COPYUID maps the copy");
      const moved = await c.messageMove(String(toMove), "Archivio", { uid: true });
      assert.ok(moved && moved.uidMap?.size === 1, "COPYUID maps the move");
      assert.deepEqual(await c.search({ subject: "Da spostare" }, { uid: true }), []);
      const st = must(await c.status("Archivio", { messages: true, uidNext: true }));
      assert.equal(st.messages, 2);
      const lock = await c.getMailboxLock("Archivio");
      try {
        const subjects: string[] = [];
        for await (const m of c.fetch("1:*", { envelope: true })) subjects.push(m.envelope!.subject!);
        assert.deepEqual(subjects.sort(), ["Da copiare", "Da spostare"]);
      } finally {
        lock.release();
      }
    });

    test("SEARCH finds by header, body, flags, size, NOT and OR", async () => {
      const c = await client();
      await c.mailboxCreate("Ricerca");
      await c.append("Ricerca", message("Ricevuta di consegna", "La consegna è avvenuta.\r\n"), ["\\Seen"]);
      await c.append(
        "Ricerca",
        Buffer.from(
          "From: =?UTF-8?Q?Fran=C3=A7ois?= <f@example.fr>\r\nSubject: =?UTF-8?B?Q2FmZsOo?=\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nPerch=E9 no\r\n",
        ),
      );
      await c.append("Ricerca", message("Terzo", "x".repeat(5000)));
      await c.mailboxOpen("Ricerca");
      assert.deepEqual(await c.search({ subject: "consegna" }), [1]);
      assert.deepEqual(await c.search({ subject: "caffè" }), [2], "encoded words are decoded");
      assert.deepEqual(await c.search({ from: "françois" }), [2]);
      assert.deepEqual(await c.search({ body: "perché" }), [2], "QP and charset are undone");
      assert.deepEqual(await c.search({ seen: false }), [2, 3]);
      assert.deepEqual(await c.search({ larger: 4000 }), [3]);
      assert.deepEqual(await c.search({ or: [{ subject: "terzo" }, { seen: true }] }), [1, 3]);
      assert.deepEqual(await c.search({ not: { subject: "terzo" } }), [1, 2]);
      assert.deepEqual(await c.search({ header: { "message-id": "Terzo@example.it" } }), [3]);
      assert.deepEqual(await c.search({ uid: "2:*" }), [2, 3]);
    });

    test("folders with non-ASCII names are created, renamed with their children and deleted", async () => {
      const c = await client();
      await c.mailboxCreate(["Pratiche", "Città"]);
      await c.mailboxCreate(["Pratiche", "Città", "Più"]);
      let names = (await c.list()).map((m) => m.path);
      assert.ok(names.includes("Pratiche/Città/Più"), names.join(","));
      await c.mailboxRename("Pratiche", "Archiviate");
      names = (await c.list()).map((m) => m.path);
      assert.ok(names.includes("Archiviate/Città/Più"));
      assert.ok(!names.some((n) => n.startsWith("Pratiche")));
      await c.mailboxDelete("Archiviate/Città/Più");
      names = (await c.list()).map((m) => m.path);
      assert.ok(!names.includes("Archiviate/Città/Più"));
      assert.ok(names.includes("Archiviate/Città"));
    });

    test("STORE with keywords, CONDSTORE modseq and QRESYNC reopen report what changed", async () => {
      const c = await client({ qresync: true });
      await c.mailboxCreate("Sync");
      await c.append("Sync", message("uno"));
      await c.append("Sync", message("due"));
      const box = await c.mailboxOpen("Sync");
      const modseq = BigInt(box.highestModseq ?? 0);
      assert.ok(modseq > 0n);
      await c.messageFlagsAdd("1", ["$Importante"]);
      const m = await c.fetchOne("1", { flags: true, modseq: true } as Parameters<typeof c.fetchOne>[1]);
      assert.ok(m && m.flags!.has("$Importante"));
      assert.ok(BigInt(m.modseq!) > modseq);
      const changed: number[] = [];
      for await (const x of c.fetch("1:*", { uid: true, flags: true }, { changedSince: modseq }))
        changed.push(x.seq);
      assert.deepEqual(changed, [1]);
    });

    test("the same box over implicit TLS", async () => {
      const c = await client({ secure: true });
      const st = must(await c.status("INBOX", { messages: true }));
      assert.ok(st.messages! >= 0);
    });

    test("an APPEND over quota answers NO [OVERQUOTA] and stores nothing", async () => {
      const small = await startTestImap({ quotaBytes: 2000 });
      const c = new ImapFlow({
        host: "127.0.0.1",
        port: small.port,
        secure: false,
        auth: { user: USER, pass: PASSWORD },
        logger: false,
        tls: { rejectUnauthorized: false },
      });
      c.on("error", () => {});
      try {
        await c.connect();
        await c.append("INBOX", message("piccolo"));
        await assert.rejects(
          c.append("INBOX", message("grande", "y".repeat(3000))),
          (err: { serverResponseCode?: string }) => err.serverResponseCode === "OVERQUOTA",
        );
        const st = must(await c.status("INBOX", { messages: true }));
        assert.equal(st.messages, 1);
      } finally {
        await c.logout().catch(() => {});
        await small.close();
      }
    });
  });
}
