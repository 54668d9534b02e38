// The scan reads imapflow's parsed FETCH answers itself (scan.ts); the whole-box tests check it against a
// real Dovecot, these pin the reading of the tokens.
import assert from "node:assert/strict";
import { test } from "node:test";
import { readFetchAttributes, readScanAttributes } from "../../src/migration/scan.js";

const atom = (value: string) => ({ type: "ATOM", value });

test("UID, flags with keywords, and RFC822.SIZE are read from a FETCH answer, in any order", () => {
  assert.deepEqual(
    readScanAttributes([
      atom("RFC822.SIZE"),
      atom("94028"),
      atom("FLAGS"),
      [atom("\\Seen"), atom("$label1"), atom("NonJunk")],
      atom("UID"),
      atom("17"),
      atom("MODSEQ"),
      [atom("7")],
    ]),
    { uid: 17, flags: ["\\Seen", "$label1", "NonJunk"], size: 94028 },
  );
  assert.deepEqual(
    readScanAttributes([atom("uid"), atom("3"), atom("FLAGS"), [], atom("rfc822.size"), atom("0")]),
    {
      uid: 3,
      flags: [],
      size: 0,
    },
  );
});

test("an unsolicited FETCH without UID or size is not taken for an answer", () => {
  assert.equal(readScanAttributes([atom("FLAGS"), [atom("\\Seen")]]), null);
  assert.equal(readScanAttributes([atom("UID"), atom("4"), atom("FLAGS"), [atom("\\Seen")]]), null);
  assert.equal(readScanAttributes([atom("UID"), atom("x"), atom("RFC822.SIZE"), atom("10")]), null);
  assert.equal(readScanAttributes([]), null);
});

const body = (section: unknown[] = []) => ({ type: "ATOM", value: "BODY", section });

test("UID, flags, INTERNALDATE and the whole body are read from a FETCH answer, the body not copied", () => {
  const bytes = Buffer.from("Subject: x\r\n\r\nhi\r\n");
  const m = readFetchAttributes([
    atom("UID"),
    atom("42"),
    atom("FLAGS"),
    [atom("\\Seen"), atom("$Forwarded")],
    atom("INTERNALDATE"),
    { type: "STRING", value: "17-Jul-1996 02:44:25 -0700" },
    body(),
    { type: "LITERAL", value: bytes },
  ]);
  assert.ok(m);
  assert.equal(m.uid, 42);
  assert.deepEqual(m.flags, ["\\Seen", "$Forwarded"]);
  assert.equal((m.internalDate as Date).toISOString(), "1996-07-17T09:44:25.000Z");
  assert.equal(m.source, bytes);
});

test("a body sent as a quoted string is the same bytes; a date that does not parse is kept as text", () => {
  const m = readFetchAttributes([
    body(),
    { type: "STRING", value: "Subject: è\r\n\r\n" },
    atom("INTERNALDATE"),
    { type: "STRING", value: "not a date" },
    atom("UID"),
    atom("7"),
  ]);
  assert.ok(m);
  assert.deepEqual(m.source, Buffer.from("Subject: è\r\n\r\n"));
  assert.equal(m.internalDate, "not a date");
  assert.equal(m.flags, undefined);
});

test("an answer without UID or whole body is not a message: flag changes, NIL, a header section", () => {
  assert.equal(readFetchAttributes([atom("UID"), atom("3"), atom("FLAGS"), [atom("\\Seen")]]), null);
  assert.equal(readFetchAttributes([atom("UID"), atom("3"), body(), null as never]), null);
  assert.equal(
    readFetchAttributes([
      atom("UID"),
      atom("3"),
      body([atom("HEADER")]),
      { type: "LITERAL", value: Buffer.from("x") },
    ]),
    null,
  );
  assert.equal(readFetchAttributes([body(), { type: "LITERAL", value: Buffer.from("x") }]), null);
});
