// appendMessages with blobs staged ahead (stageBlobs): the migration writes a batch's blobs while the
// batch before it commits. The append must read back byte-identical from both tiers of the blob store
// (small blobs in the database, written by the staged `write` inside the append's transaction; large
// ones as files), and refuse a staging that does not match its messages.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { StoreError } from "../../src/store/types.js";
import { createTempStore, type TempStore } from "../helpers/temp-store.js";

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

function message(n: number, bodyBytes: number): Buffer {
  const head = `From: a@example.it\r\nTo: b@pec.example.it\r\nSubject: staged ${n}\r\nMessage-ID: <s${n}@x>\r\n\r\n`;
  return Buffer.concat([Buffer.from(head), Buffer.alloc(bodyBytes, 65 + (n % 26))]);
}

for (const inlineMaxBytes of [65536, 0]) {
  describe(`staged appends (inlineMaxBytes ${inlineMaxBytes})`, () => {
    let temp: TempStore;
    before(async () => {
      temp = await createTempStore("sqlite", { inlineMaxBytes });
    });
    after(() => temp.close());

    test("messages staged ahead are stored byte-identical, with the rows, in input order", async () => {
      const { store } = temp;
      const box = await store.createMailbox({
        address: `staged${inlineMaxBytes}@pec.example.it`,
        passwordHash: "h",
        quotaBytes: 10_000_000,
      });
      const inbox = (await store.listFolders(box.id)).find((f) => f.name === "INBOX")!;
      // Small (inline when enabled) and large (always a file), twice the same bytes among them.
      const msgs = [message(1, 100), message(2, 200_000), message(3, 5_000), message(1, 100)];
      const staged = await store.stageBlobs(msgs);
      assert.deepEqual(
        staged.refs.map((r) => r.id),
        msgs.map(sha),
      );
      const res = await store.appendMessages(
        box.id,
        inbox.id,
        msgs.map((bytes) => ({ bytes, flags: ["\\Seen"] })),
        { staged },
      );
      assert.deepEqual(
        res.messages.map((m) => m.blobId),
        msgs.map(sha),
      );
      const listed = await store.listMessages(inbox.id);
      assert.equal(listed.length, msgs.length);
      for (const [i, m] of listed.entries()) {
        assert.equal(m.uid, res.messages[i]!.uid);
        assert.equal(sha(await store.readBlob(m.blobId)), sha(msgs[i]!));
        assert.deepEqual(m.flags, ["\\Seen"]);
      }
      const q = await store.quota(box.id);
      assert.equal(
        q.usedBytes,
        msgs.reduce((n, b) => n + b.length, 0),
      );
    });

    test("a staging that does not match the messages is refused and nothing is appended", async () => {
      const { store } = temp;
      const box = await store.createMailbox({
        address: `mismatch${inlineMaxBytes}@pec.example.it`,
        passwordHash: "h",
        quotaBytes: 10_000_000,
      });
      const inbox = (await store.listFolders(box.id)).find((f) => f.name === "INBOX")!;
      const staged = await store.stageBlobs([message(7, 10)]);
      for (const inputs of [[message(8, 20)], [message(7, 10), message(7, 10)]]) {
        await assert.rejects(
          () =>
            store.appendMessages(
              box.id,
              inbox.id,
              inputs.map((bytes) => ({ bytes })),
              { staged },
            ),
          (err: unknown) => err instanceof StoreError && err.code === "INVALID_INPUT",
        );
      }
      assert.equal((await store.listMessages(inbox.id)).length, 0);
    });
  });
}
