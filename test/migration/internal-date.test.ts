// The date a copied message keeps (engine.ts, internalDateOf): the old server's INTERNALDATE, read from
// its own text; the cases Dovecot never produces in the whole-box tests are pinned here.
import assert from "node:assert/strict";
import { test } from "node:test";
import { internalDateOf } from "../../src/migration/engine.js";

test("INTERNALDATE: the server's when it reads, else the message's Date header, else the time of the copy", () => {
  const msg = [
    Buffer.from("Subject: x\r\nDate: Tue, 1 Jul 2025 10:00:00 +0200\r\n"),
    Buffer.from("\r\nbody\r\n"),
  ];
  assert.equal(internalDateOf("17-Jul-1996 02:44:25 -0700", msg).toISOString(), "1996-07-17T09:44:25.000Z");
  assert.equal(internalDateOf("not a date", msg).toISOString(), "2025-07-01T08:00:00.000Z");
  assert.equal(internalDateOf(undefined, msg).toISOString(), "2025-07-01T08:00:00.000Z");
  const before = Date.now();
  const now = internalDateOf("garbage", Buffer.from("Subject: no date\r\n\r\n")).getTime();
  assert.ok(now >= before && now <= Date.now());
});
