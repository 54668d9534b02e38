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

    test("messages given as the chunks they arrived in are stored byte-identical, with their headers read", async () => {
      const { store } = temp;
      const box = await store.createMailbox({
        address: `chunks${inlineMaxBytes}@pec.example.it`,
        passwordHash: "h",
        quotaBytes: 10_000_000,
      });
      const inbox = (await store.listFolders(box.id)).find((f) => f.name === "INBOX")!;
      // Cut anywhere, the header block too; one of them with its sha-256 known ahead (the migration's
      // source thread computes it), one with empty chunks.
      const cut = (b: Buffer, size: number) =>
        Array.from({ length: Math.ceil(b.length / size) }, (_, i) => b.subarray(i * size, (i + 1) * size));
      const whole = [message(21, 300_000), message(22, 2_000), message(23, 150_000)];
      const inputs = [
        cut(whole[0]!, 65_536),
        [whole[1]!.subarray(0, 10), Buffer.alloc(0), whole[1]!.subarray(10)],
        { chunks: cut(whole[2]!, 7), size: whole[2]!.length, sha256: sha(whole[2]!) },
      ];
      const staged = await store.stageBlobs(inputs.slice(0, 2));
      const a = await store.appendMessages(
        box.id,
        inbox.id,
        inputs.slice(0, 2).map((bytes) => ({ bytes })),
        {
          staged,
        },
      );
      const b = await store.appendMessages(box.id, inbox.id, [{ bytes: inputs[2]! }]);
      assert.deepEqual(
        [...a.messages, ...b.messages].map((m) => m.blobId),
        whole.map(sha),
      );
      const listed = await store.listMessages(inbox.id);
      assert.deepEqual(
        listed.map((m) => m.subject),
        ["staged 21", "staged 22", "staged 23"],
      );
      for (const [i, m] of listed.entries()) assert.deepEqual(await store.readBlob(m.blobId), whole[i]);
      assert.equal(
        (await store.quota(box.id)).usedBytes,
        whole.reduce((n, w) => n + w.length, 0),
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
