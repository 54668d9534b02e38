// Hostile input for the PEC reader: generated attacks (deep nesting, part floods, giant headers, broken
// base64, XML bombs) and random mutations of real and built messages. Each input must end in a reading
// or a PecParseError: never another exception, never a hang (the test runner's timeout is the bound).
// Bounded in CI; DOMICILIO_FUZZ_ITERATIONS=100000 runs longer locally, DOMICILIO_FUZZ_SEED replays a run.
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import {
  buildAccettazione,
  buildAvvenutaConsegna,
  buildBustaTrasporto,
  openTransaction,
} from "../../src/pec/builders.js";
import { buildDaticert, parseDaticert } from "../../src/pec/daticert.js";
import { PecParseError } from "../../src/pec/errors.js";
import { canonicalCrlf, type PecReading, readPec } from "../../src/pec/reader.js";
import { mulberry32 } from "../helpers/prng.js";
import { originalMessage, SAMPLES, type TestProvider, testProvider } from "./pec-helpers.js";

const ITERATIONS = Number(process.env.DOMICILIO_FUZZ_ITERATIONS ?? 2000);
const SEED = Number(process.env.DOMICILIO_FUZZ_SEED ?? 20241205);

const prng = mulberry32;

let provider: TestProvider;
const corpus: Buffer[] = [];
const signedContents = new Set<string>();

function key(b: Buffer): string {
  return canonicalCrlf(b).toString("base64");
}

/** The contract: a reading, or a typed error. */
function read(input: Buffer): PecReading | PecParseError {
  try {
    return readPec(input, { trust: provider.trust });
  } catch (err) {
    if (err instanceof PecParseError) return err;
    throw err;
  }
}

before(async () => {
  provider = await testProvider("Fuzz PEC", "pec.fuzz.it");
  const { transaction, enclosed } = openTransaction(provider.ctx, originalMessage({ attachment: true }));
  corpus.push(
    (await buildBustaTrasporto(provider.ctx, transaction, enclosed)).raw,
    (await buildAccettazione(provider.ctx, transaction)).raw,
    (await buildAvvenutaConsegna(provider.ctx, transaction, "anna.neri@pec.beta.it", enclosed, "breve")).raw,
  );
  if (existsSync(SAMPLES)) {
    for (const dir of ["signed", "anonymised", "not-pec", "tampered"]) {
      for (const f of readdirSync(join(SAMPLES, dir))) corpus.push(readFileSync(join(SAMPLES, dir, f)));
    }
  } else {
    console.error("!!! ../shared/pec-samples is MISSING: fuzzing only generated messages !!!");
  }
  for (const c of corpus) {
    const r = readPec(c);
    if (r.signature.intact && r.signedContent) signedContents.add(key(r.signedContent));
  }
});

after(() => provider?.cleanup());

function nested(depth: number): Buffer {
  let head = "";
  let tail = "";
  for (let i = 0; i < depth; i++) {
    head += `Content-Type: multipart/mixed; boundary="b${i}"\r\n\r\n--b${i}\r\n`;
    tail = `\r\n--b${i}--\r\n${tail}`;
  }
  return Buffer.from(
    `From: a@b.it\r\nX-Ricevuta: accettazione\r\n${head}Content-Type: text/plain\r\n\r\nx${tail}`,
  );
}

function withDaticert(xml: string, cte = "base64"): Buffer {
  const body = cte === "base64" ? Buffer.from(xml).toString("base64") : xml;
  return Buffer.from(
    "From: posta-certificata@pec.x.it\r\nX-Ricevuta: accettazione\r\nContent-Type: multipart/mixed; boundary=zz\r\n\r\n" +
      `--zz\r\nContent-Type: application/xml; name="daticert.xml"\r\nContent-Transfer-Encoding: ${cte}\r\n\r\n${body}\r\n--zz--\r\n`,
  );
}

describe("the PEC reader on hostile input", () => {
  test("10,000 nested multiparts end in mime-too-deep", () => {
    const r = read(nested(10_000));
    assert.ok(r instanceof PecParseError && r.code === "mime-too-deep", String(r));
  });

  test("10,000 sibling parts end in mime-too-many-parts", () => {
    const parts = Array.from({ length: 10_000 }, () => "--p\r\nContent-Type: text/plain\r\n\r\nx\r\n").join(
      "",
    );
    const r = read(Buffer.from(`Content-Type: multipart/mixed; boundary=p\r\n\r\n${parts}--p--\r\n`));
    assert.ok(r instanceof PecParseError && r.code === "mime-too-many-parts", String(r));
  });

  test("a giant header line and a flood of header fields end in header-too-large", () => {
    const line = read(Buffer.from(`Subject: ${"x".repeat(2_000_000)}\r\n\r\nbody`));
    assert.ok(line instanceof PecParseError && line.code === "header-too-large", `got ${String(line)}`);
    const fields = read(Buffer.from(`${"X-A: b\r\n".repeat(50_000)}\r\nbody`));
    assert.ok(fields instanceof PecParseError && fields.code === "header-too-large", String(fields));
  });

  test("a multipart cut before its closing boundary is read as truncated and its signature is not intact", () => {
    const msg = corpus[1]!;
    for (const cut of [0.3, 0.6, 0.9, 0.99]) {
      const r = read(msg.subarray(0, Math.floor(msg.length * cut)));
      if (r instanceof PecParseError) continue;
      assert.equal(r.signature.intact, false, `cut at ${cut}`);
    }
  });

  test("broken base64 in the signature and in daticert is reported, not thrown", () => {
    const msg = corpus[1]!.toString("latin1");
    const p7sAt = msg.indexOf("smime.p7s");
    const body = msg.indexOf("\r\n\r\n", p7sAt) + 4;
    const broken = Buffer.from(`${msg.slice(0, body)}!!!not*base64$$$${msg.slice(body + 17)}`, "latin1");
    const r = read(broken);
    assert.ok(!(r instanceof PecParseError), String(r));
    assert.equal(r.signature.present, true);
    assert.equal(r.signature.intact, false);
    assert.match(r.signature.reason ?? "", /bad-base64/);
    const dat = read(Buffer.from(withDaticert("x").toString("latin1").replace("eA==", "e@@=")));
    assert.ok(!(dat instanceof PecParseError));
    assert.equal(dat.daticertError?.code, "bad-base64");
  });

  test("an XML bomb inside daticert.xml is refused as xml-forbidden", () => {
    const bomb =
      '<?xml version="1.0"?><!DOCTYPE postacert [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>' +
      '<postacert tipo="accettazione" errore="nessuno"><intestazione><mittente>&b;</mittente></intestazione></postacert>';
    const r = read(withDaticert(bomb));
    assert.ok(!(r instanceof PecParseError));
    assert.equal(r.pec, "accettazione");
    assert.equal(r.daticert, null);
    assert.equal(r.daticertError?.code, "xml-forbidden");
  });

  test(`${ITERATIONS} random mutations of real and built messages end in a reading or a typed error`, () => {
    const rnd = prng(SEED);
    const int = (n: number) => Math.floor(rnd() * n);
    const tokens = [
      "\r\n",
      "\n",
      "--",
      "\r\n\r\n",
      "Content-Type: multipart/mixed; boundary=x\r\n",
      "=?UTF-8?B?",
      "<!DOCTYPE",
      "&amp;",
      "\u0000",
    ];
    let intactAfterMutation = 0;
    for (let i = 0; i < ITERATIONS; i++) {
      const base = corpus[int(corpus.length)]!;
      let m = Buffer.from(base);
      const steps = 1 + int(4);
      for (let s = 0; s < steps; s++) {
        const at = int(m.length + 1);
        switch (int(6)) {
          case 0: // flip a byte
            if (m.length > 0) m[Math.min(at, m.length - 1)] = int(256);
            break;
          case 1: // truncate
            m = m.subarray(0, at);
            break;
          case 2: // delete a range
            m = Buffer.concat([m.subarray(0, at), m.subarray(at + int(200))]);
            break;
          case 3: // duplicate a range
            m = Buffer.concat([m.subarray(0, at), m.subarray(at, at + int(400)), m.subarray(at)]);
            break;
          case 4: // insert a structural token
            m = Buffer.concat([m.subarray(0, at), Buffer.from(tokens[int(tokens.length)]!), m.subarray(at)]);
            break;
          default: // random bytes
            m = Buffer.concat([
              m.subarray(0, at),
              Buffer.from(Array.from({ length: int(32) }, () => int(256))),
              m.subarray(at),
            ]);
        }
      }
      let r: PecReading | PecParseError;
      try {
        r = read(m);
      } catch (err) {
        assert.fail(`seed ${SEED}, iteration ${i}: untyped ${(err as Error).stack}`);
      }
      // A signature may only stay intact when the mutation missed the signed bytes.
      if (!(r instanceof PecParseError) && r.signature.intact) {
        intactAfterMutation++;
        assert.ok(
          r.signedContent && signedContents.has(key(r.signedContent)),
          `seed ${SEED}, iteration ${i}: intact over changed content`,
        );
      }
    }
    assert.ok(intactAfterMutation < ITERATIONS, "mutations do break signatures");
  });

  test(`${ITERATIONS} mutations of daticert.xml end in a daticert or a typed error`, () => {
    const rnd = prng(SEED + 1);
    const int = (n: number) => Math.floor(rnd() * n);
    const base = buildDaticert({
      tipo: "avvenuta-consegna",
      errore: "nessuno",
      mittente: "mario@pec.alfa.it",
      destinatari: [{ tipo: "certificato", indirizzo: "anna@pec.beta.it" }],
      risposte: "mario@pec.alfa.it",
      oggetto: "Città & <prova>",
      gestoreEmittente: "Alfa",
      data: { giorno: "01/01/2025", ora: "10:00:00", zona: "+0100" },
      identificativo: "id@pec.alfa.it",
      msgid: "<m@x>",
      ricevuta: "completa",
      consegna: "anna@pec.beta.it",
      ricezione: [],
      erroreEsteso: null,
    });
    const tokens = [
      "<",
      ">",
      "</",
      "/>",
      "&",
      "&amp;",
      "&#x0;",
      "&#xD800;",
      '"',
      "<![CDATA[",
      "]]>",
      "<?",
      "<!--",
      "<postacert>",
      "<dati>",
    ];
    let parsed = 0;
    for (let i = 0; i < ITERATIONS; i++) {
      let x = base;
      for (let s = 0; s < 1 + int(3); s++) {
        const at = int(x.length + 1);
        x =
          int(2) === 0
            ? x.slice(0, at) + tokens[int(tokens.length)]! + x.slice(at)
            : x.slice(0, at) + x.slice(at + int(20));
      }
      try {
        parseDaticert(x);
        parsed++;
      } catch (err) {
        if (!(err instanceof PecParseError))
          assert.fail(`seed ${SEED}, iteration ${i}: untyped ${(err as Error).stack}`);
      }
    }
    assert.ok(parsed < ITERATIONS, "mutations are detected");
  });
});
