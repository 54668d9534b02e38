// The reader's classification rules: by header and daticert, never by subject (pec-rules.md), wherever
// the signed part sits, with line ends as stored.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import {
  type BuiltPec,
  buildAccettazione,
  buildBustaTrasporto,
  openTransaction,
} from "../../src/pec/builders.js";
import { readPec } from "../../src/pec/reader.js";
import { originalMessage, type TestProvider, testProvider } from "./pec-helpers.js";

let p: TestProvider;
let busta: BuiltPec;
let accettazione: BuiltPec;

before(async () => {
  p = await testProvider("Alfa PEC", "pec.alfa.it");
  const { transaction, enclosed } = openTransaction(p.ctx, originalMessage());
  busta = await buildBustaTrasporto(p.ctx, transaction, enclosed);
  accettazione = await buildAccettazione(p.ctx, transaction);
});
after(() => p?.cleanup());

function replaceHeader(raw: Buffer, name: string, value: string | null): Buffer {
  const text = raw.toString("latin1");
  const re = new RegExp(`^${name}: .*\\r\\n`, "mi");
  assert.match(text, re);
  return Buffer.from(text.replace(re, value === null ? "" : `${name}: ${value}\r\n`), "latin1");
}

describe("the PEC reader", () => {
  test("ordinary mail whose subject imitates PEC is not PEC", () => {
    const fake = Buffer.from(
      "From: truffa@example.com\r\nTo: anna@pec.beta.it\r\nSubject: POSTA CERTIFICATA: ACCETTAZIONE: fattura\r\n\r\nCiao\r\n",
    );
    const r = readPec(fake);
    assert.equal(r.pec, null);
    assert.equal(r.signature.present, false);
  });

  test("the type comes from X-Ricevuta, not from a misleading subject", () => {
    const r = readPec(replaceHeader(accettazione.raw, "Subject", "CONSEGNA: altro"));
    assert.equal(r.pec, "accettazione");
    assert.equal(r.signature.intact, true, "outer headers are outside the signature");
  });

  test("without the type header, a signed message with daticert is typed by daticert and says so", () => {
    const r = readPec(replaceHeader(accettazione.raw, "X-Ricevuta", null), { trust: p.trust });
    assert.equal(r.pec, "accettazione");
    assert.match(r.warnings.join(), /typed by daticert/);
    assert.equal(r.signature.trusted, true);
  });

  test("a header that contradicts daticert is reported", () => {
    const r = readPec(replaceHeader(accettazione.raw, "X-Ricevuta", "avvenuta-consegna"));
    assert.equal(r.pec, "avvenuta-consegna");
    assert.match(r.warnings.join(), /daticert says accettazione/);
  });

  test("a signed envelope re-wrapped by a mailing list still verifies and keeps its type", () => {
    const raw = busta.raw.toString("latin1");
    const split = raw.indexOf("MIME-Version: 1.0\r\nContent-Type: multipart/signed");
    const outer = raw.slice(0, split);
    const signedEntity = raw.slice(split + "MIME-Version: 1.0\r\n".length);
    const wrapped = Buffer.from(
      `${outer.replace(/^Subject: /m, "Subject: [lista] ")}MIME-Version: 1.0\r\n` +
        `Content-Type: multipart/mixed; boundary="===list==="\r\n\r\n--===list===\r\n${signedEntity}\r\n` +
        `--===list===\r\nContent-Type: text/plain\r\n\r\n_______________________________________________\r\nlista mailing list\r\n` +
        "--===list===--\r\n",
      "latin1",
    );
    const r = readPec(wrapped, { trust: p.trust });
    assert.equal(r.pec, "posta-certificata");
    assert.equal(r.signature.intact, true, r.signature.reason ?? "");
    assert.equal(r.signature.trusted, true);
    assert.equal(r.daticert?.identificativo, busta.identificativo);
  });

  test("a message stored with bare LF line ends still verifies, as OpenSSL canonicalises it", () => {
    const lf = Buffer.from(busta.raw.toString("latin1").replace(/\r\n/g, "\n"), "latin1");
    const r = readPec(lf, { trust: p.trust });
    assert.equal(r.signature.intact, true, r.signature.reason ?? "");
    assert.equal(r.pec, "posta-certificata");
  });

  test("the correlation keys of an envelope are its identificativo and the original Message-ID", () => {
    const r = readPec(busta.raw);
    assert.deepEqual(r.correlation, {
      originalMessageId: "<orig-1234@client.example>",
      identificativo: busta.identificativo,
    });
  });

  for (const md of ["sha1", "sha256"]) {
    for (const stream of [false, true]) {
      test(`a message signed by OpenSSL with ${md}${stream ? " in streaming BER" : ""} verifies and is trusted`, () => {
        const k = join(p.dir, "keys");
        const inFile = join(p.dir, `in-${md}-${stream}.eml`);
        const outFile = join(p.dir, `out-${md}-${stream}.eml`);
        writeFileSync(
          inFile,
          'Content-Type: text/plain; charset="utf-8"\r\n\r\nRicevuta firmata da OpenSSL, città.\r\n',
        );
        const args = ["smime", "-sign", "-in", inFile, "-out", outFile, "-signer", join(k, "signing.pem")];
        args.push("-inkey", join(k, "signing.key"), "-certfile", join(k, "ca.pem"), "-md", md);
        if (stream) args.push("-stream");
        const r = spawnSync("openssl", args, { encoding: "utf8" });
        assert.equal(r.status, 0, r.stderr);
        const signed = Buffer.concat([Buffer.from("X-Ricevuta: accettazione\r\n"), readFileSync(outFile)]);
        const read = readPec(signed, { trust: p.trust });
        assert.equal(read.signature.intact, true, read.signature.reason ?? "");
        assert.equal(read.signature.trusted, true);
        assert.equal(read.signature.digestAlgorithm, md);
        const text = signed.toString("latin1");
        const at = text.indexOf("Ricevuta firmata");
        const tampered = Buffer.from(`${text.slice(0, at)}r${text.slice(at + 1)}`, "latin1");
        assert.equal(readPec(tampered, { trust: p.trust }).signature.intact, false);
      });
    }
  }
});
