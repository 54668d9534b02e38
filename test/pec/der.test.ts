// The BER/DER slicer verification relies on: definite and indefinite lengths (X.690 §8.1.3), OIDs,
// times, and refusal of broken encodings with a typed error.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { buildAccettazione, openTransaction } from "../../src/pec/builders.js";
import * as der from "../../src/pec/der.js";
import { PecParseError } from "../../src/pec/errors.js";
import { decodeBody, parseMime } from "../../src/pec/mime-raw.js";
import { verifyDetached } from "../../src/pec/smime.js";
import { originalMessage, type TestProvider, testProvider } from "./pec-helpers.js";

let p: TestProvider;
let content: Buffer;
let p7s: Buffer;

before(async () => {
  p = await testProvider("Der PEC", "pec.der.it");
  const msg = (await buildAccettazione(p.ctx, openTransaction(p.ctx, originalMessage()).transaction)).raw;
  const root = parseMime(msg);
  content = msg.subarray(root.parts[0]!.start, root.parts[0]!.end);
  p7s = decodeBody(msg, root.parts[1]!);
});
after(() => p?.cleanup());

/** Re-encodes the two outer levels (ContentInfo, [0]) with indefinite lengths, as streaming BER does. */
function toIndefinite(d: Buffer): Buffer {
  const ci = der.readTlv(d, 0);
  const [ct, explicit] = der.children(d, ci);
  const inner = d.subarray(explicit!.contentStart, explicit!.contentEnd);
  return Buffer.concat([
    Buffer.from([0x30, 0x80]),
    d.subarray(ct!.start, ct!.end),
    Buffer.from([0xa0, 0x80]),
    inner,
    Buffer.from([0, 0, 0, 0]),
  ]);
}

describe("the DER reader", () => {
  test("a signature in indefinite-length BER verifies like its DER form", () => {
    const ber = toIndefinite(p7s);
    assert.notDeepEqual(ber, p7s);
    const r = verifyDetached([content], ber, p.trust);
    assert.equal(r.intact, true, r.reason ?? "");
    assert.equal(r.trusted, true);
  });

  test("object identifiers and times decode", () => {
    const oid = Buffer.from([0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02]);
    assert.equal(der.oid(oid, der.readTlv(oid, 0)), "1.2.840.113549.1.7.2");
    const utc = Buffer.concat([Buffer.from([0x17, 13]), Buffer.from("241205000210Z")]);
    assert.equal(der.time(utc, der.readTlv(utc, 0))?.toISOString(), "2024-12-05T00:02:10.000Z");
    const gen = Buffer.concat([Buffer.from([0x18, 15]), Buffer.from("20501205000210Z")]);
    assert.equal(der.time(gen, der.readTlv(gen, 0))?.toISOString(), "2050-12-05T00:02:10.000Z");
  });

  test("truncated, overlong and endlessly nested encodings end in cms-invalid", () => {
    const isCms = (e: unknown) => e instanceof PecParseError && e.code === "cms-invalid";
    assert.throws(() => verifyDetached([content], p7s.subarray(0, p7s.length - 10), null), isCms);
    assert.throws(() => der.readTlv(Buffer.from([0x30, 0x85, 1, 2, 3, 4, 5]), 0), isCms);
    assert.throws(() => der.readTlv(Buffer.from([0x04, 0x80, 0, 0]), 0), isCms);
    const deep = Buffer.concat([
      Buffer.alloc(2000, 0).map((_, i) => (i % 2 === 0 ? 0x30 : 0x80)),
      Buffer.alloc(2000, 0),
    ]);
    assert.throws(() => der.readTlv(deep, 0), isCms);
    assert.throws(() => verifyDetached([content], Buffer.from("not a signature at all"), null), isCms);
  });
});
