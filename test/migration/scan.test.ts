// The scan reads imapflow's parsed FETCH answers itself (scan.ts); the whole-box tests check it against a
// real Dovecot, these pin the reading of the tokens.
import assert from "node:assert/strict";
import { test } from "node:test";
import { readScanAttributes } from "../../src/migration/scan.js";

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
