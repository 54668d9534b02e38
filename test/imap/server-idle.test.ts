// IDLE (RFC 2177) while other connections change the folder, on the wire: a sync whose reads see the
// store at different moments (on PostgreSQL they run on separate pool connections, so a commit can land
// between them), and DONE with the next command in any chunking while changes are being pushed.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { SqlMailStore } from "../../src/store/sql-mail-store.js";
import { RawImap } from "../helpers/imap-raw.js";
import { PASSWORD, startTestImap, type TestImap, USER } from "../helpers/imap-server.js";
import { BACKENDS } from "../helpers/temp-store.js";

let t: TestImap;

async function loggedIn(): Promise<RawImap> {
  const c = await RawImap.open(t.port);
  assert.match(await c.cmd(`LOGIN ${USER} "${PASSWORD}"`), /^t\d+ OK /m);
  return c;
}

function message(subject: string): Buffer {
  return Buffer.from(`From: mario.rossi@pec.example.it\r\nSubject: ${subject}\r\n\r\nCorpo.\r\n`);
}

/** A folder of its own for one test, with `count` messages; returns its id and the UIDs. */
async function folderWith(name: string, count: number): Promise<{ id: number; uids: number[] }> {
  const store = t.temp.store;
  const folder = await store.createFolder(t.mailboxId, name);
  const uids: number[] = [];
  for (let i = 0; i < count; i++) {
    const res = await store.appendMessages(t.mailboxId, folder.id, [{ bytes: message(`${name} ${i}`) }]);
    uids.push(res.messages[0]!.uid);
  }
  return { id: folder.id, uids };
}

/**
 * Makes the next sync of the folder read its changed messages, then runs `between` (a commit by
 * "another connection"), and only then read what was expunged: the interleaving a loaded PostgreSQL
 * produces by chance, as the two reads run on different connections. Resolves once `between` is done.
 */
function betweenSyncReads(
  store: SqlMailStore,
  folderId: number,
  between: () => Promise<unknown>,
): Promise<void> {
  let committed!: () => void;
  const done = new Promise<void>((resolve) => {
    committed = resolve;
  });
  store.listMessages = async (id, options = {}) => {
    const rows = await Object.getPrototypeOf(store).listMessages.call(store, id, options);
    if (id === folderId && options.changedSince !== undefined) {
      Reflect.deleteProperty(store, "listMessages");
      await between();
      committed();
    }
    return rows;
  };
  store.expungedSince = async (id, since) => {
    if (id === folderId) {
      Reflect.deleteProperty(store, "expungedSince");
      await done;
    }
    return Object.getPrototypeOf(store).expungedSince.call(store, id, since);
  };
  return done;
}

const lines = (text: string) => text.split("\r\n").filter((l) => l !== "");

for (const backend of BACKENDS) {
  describe(`on ${backend}`, () => {
    before(async () => {
      t = await startTestImap({ backend });
    });
    after(() => t.close());

    // The imapflow IDLE test's flake: the sync pushed for "+FLAGS \Deleted" read the message with its new
    // flags, the EXPUNGE committed, and the read of expunged UIDs saw it too. The message was reported
    // expunged and then looked up for its flags change: the session failed and said BYE mid-IDLE.
    test("a message expunged between the reads of a sync during IDLE is reported once as EXPUNGE and IDLE goes on", async () => {
      const store = t.temp.store;
      const f = await folderWith("Corsa", 2);
      const c = await loggedIn();
      assert.match(await c.cmd("SELECT Corsa"), /^\* 2 EXISTS\r\n/m);
      c.write("i IDLE\r\n");
      await c.until((s) => s.includes("+ idling\r\n"));
      c.take();
      const target = f.uids[1]!;
      const interleaved = betweenSyncReads(store, f.id, () => store.expunge(f.id, { uids: [target] }));
      await store.storeFlags(f.id, { uids: [target], mode: "add", flags: ["\\Deleted"] });
      await interleaved;
      await c.until((s) => s.includes("* 2 EXPUNGE\r\n"));
      c.write("DONE\r\n");
      await c.until((s) => /^i (OK|NO|BAD)/m.test(s));
      assert.deepEqual(lines(c.take()), ["* 2 EXPUNGE", "i OK IDLE terminated"]);
      assert.match(
        await c.cmd("FETCH 1:* (UID)"),
        new RegExp(`^\\* 1 FETCH \\(UID ${f.uids[0]}\\)\\r\\nt\\d+ OK`),
      );
      c.close();
    });

    test("a message expunged between the reads of the sync that ends a NOOP is reported once as EXPUNGE", async () => {
      const store = t.temp.store;
      const f = await folderWith("Corsa2", 2);
      const c = await loggedIn();
      assert.match(await c.cmd("SELECT Corsa2"), /^\* 2 EXISTS\r\n/m);
      const target = f.uids[0]!;
      await store.storeFlags(f.id, { uids: [target], mode: "add", flags: ["\\Deleted"] });
      const interleaved = betweenSyncReads(store, f.id, () => store.expunge(f.id, { uids: [target] }));
      const noop = await c.cmd("NOOP", "n");
      await interleaved;
      assert.deepEqual(lines(noop), ["* 1 EXPUNGE", "n OK NOOP completed"]);
      assert.match(
        await c.cmd("FETCH 1:* (UID)"),
        new RegExp(`^\\* 1 FETCH \\(UID ${f.uids[1]}\\)\\r\\nt\\d+ OK`),
      );
      c.close();
    });

    test("DONE and the command after it are answered in order however their bytes are split, while a change is pushed", async () => {
      const store = t.temp.store;
      const f = await folderWith("Tagli", 1);
      const c = await loggedIn();
      await c.cmd("SELECT Tagli");
      const tail = "DONE\r\nb STATUS Tagli (MESSAGES)\r\n";
      // Each form is the bytes sent after "+ idling", as the writes the client makes. "pipelined" sends
      // IDLE itself with the rest, not waiting for "+".
      const forms: { name: string; writes: string[]; pipelined?: boolean }[] = [
        { name: "whole", writes: [tail] },
        { name: "pipelined with IDLE", writes: [tail], pipelined: true },
        { name: "byte by byte", writes: [...tail] },
      ];
      for (let i = 1; i < tail.length; i++)
        forms.push({ name: `split at ${i}`, writes: [tail.slice(0, i), tail.slice(i)] });
      let messages = 1;
      for (const form of forms) {
        c.take();
        const append = () => store.appendMessages(t.mailboxId, f.id, [{ bytes: message(form.name) }]);
        messages++;
        if (form.pipelined) {
          // Committed before the client speaks: IDLE's first sync reports it.
          await append();
          c.write(`i IDLE\r\n${form.writes.join("")}`);
        } else {
          c.write("i IDLE\r\n");
          await c.until((s) => s.includes("+ idling\r\n"));
          const appended = append();
          // The change commits (pushed during IDLE, or found by the next sync) before the middle write.
          const at = Math.floor(form.writes.length / 2);
          for (const [k, w] of form.writes.entries()) {
            if (k === at) await appended;
            else if (k > 0) await new Promise((resolve) => setImmediate(resolve));
            c.write(w);
          }
        }
        const got = lines(await c.until((s) => /^b (OK|NO|BAD)/m.test(s)));
        const untagged = got.filter((l) => / (EXISTS|RECENT)$/.test(l));
        assert.deepEqual(
          got.filter((l) => !untagged.includes(l)),
          [
            "+ idling",
            "i OK IDLE terminated",
            `* STATUS Tagli (MESSAGES ${messages})`,
            "b OK STATUS completed",
          ],
          form.name,
        );
        assert.deepEqual(
          untagged.filter((l) => l.endsWith("EXISTS")),
          [`* ${messages} EXISTS`],
          form.name,
        );
      }
      c.close();
    });
  });
}
