// Every message the builders make: verified by OpenSSL (an independent implementation), re-read by our
// reader to the same fields, still verifying after a round trip through the store, and broken by any
// change to a signed byte.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import {
  type BuiltPec,
  buildAccettazione,
  buildAvvenutaConsegna,
  buildBustaAnomalia,
  buildBustaTrasporto,
  buildMancataConsegna,
  buildNonAccettazione,
  buildPreavviso,
  buildPresaInCarico,
  buildRilevazioneVirus,
  openTransaction,
  type Transaction,
} from "../../src/pec/builders.js";
import { header, parseMime } from "../../src/pec/mime-raw.js";
import { NON_DELIVERY_CAUSES, type NonDeliveryCause } from "../../src/pec/non-delivery.js";
import { ownProviderEntry } from "../../src/pec/provider-keys.js";
import { ProvidersIndex } from "../../src/pec/providers-index.js";
import { readPec } from "../../src/pec/reader.js";
import { createTempStore } from "../helpers/temp-store.js";
import { originalMessage, type TestProvider, testProvider } from "./pec-helpers.js";

let alfa: TestProvider;
let beta: TestProvider;
let tx: Transaction;
let enclosed: Buffer;
const built: { label: string; msg: BuiltPec; expectsOriginal: boolean }[] = [];

before(async () => {
  alfa = await testProvider("Alfa PEC S.p.A.", "pec.alfa.it");
  beta = await testProvider("Beta PEC S.r.l.", "pec.beta.it");
  const classify = (a: string) =>
    a.endsWith("@example.com") ? ("esterno" as const) : ("certificato" as const);
  ({ transaction: tx, enclosed } = openTransaction(
    alfa.ctx,
    originalMessage({ subject: "Fatture & <note> di credito, città 😀", attachment: true }),
    { classify },
  ));
  const a = alfa.ctx;
  const b = beta.ctx;
  const add = (label: string, msg: BuiltPec, expectsOriginal = false) =>
    built.push({ label, msg, expectsOriginal });
  add("busta di trasporto", await buildBustaTrasporto(a, tx, enclosed), true);
  add("busta di anomalia", await buildBustaAnomalia(b, originalMessage(), ["anna.neri@pec.beta.it"]), true);
  add("ricevuta di accettazione", await buildAccettazione(a, tx));
  add(
    "avviso di non accettazione (errori formali)",
    await buildNonAccettazione(a, tx, { kind: "formale", detail: "Bcc non ammesso" }),
  );
  add(
    "avviso di non accettazione per virus",
    await buildNonAccettazione(a, tx, { kind: "virus", detail: "Eicar-Test-Signature" }),
  );
  add(
    "ricevuta di presa in carico",
    await buildPresaInCarico(b, tx, "posta-certificata@pec.alfa.it", ["anna.neri@pec.beta.it"]),
  );
  add(
    "ricevuta di avvenuta consegna completa",
    await buildAvvenutaConsegna(b, tx, "anna.neri@pec.beta.it", enclosed, "completa"),
    true,
  );
  add(
    "ricevuta di avvenuta consegna breve",
    await buildAvvenutaConsegna(b, tx, "anna.neri@pec.beta.it", enclosed, "breve"),
    true,
  );
  add(
    "ricevuta di avvenuta consegna sintetica",
    await buildAvvenutaConsegna(b, tx, "anna.neri@pec.beta.it", enclosed, "sintetica"),
  );
  for (const cause of Object.keys(NON_DELIVERY_CAUSES) as NonDeliveryCause[]) {
    add(
      `avviso di mancata consegna (${cause})`,
      await buildMancataConsegna(b, tx, "anna.neri@pec.beta.it", cause),
    );
  }
  add("preavviso di mancata consegna", await buildPreavviso(a, tx, "anna.neri@pec.beta.it"));
  add(
    "rilevazione virus",
    await buildRilevazioneVirus(b, tx, "posta-certificata@pec.alfa.it", "Eicar-Test-Signature"),
  );
});

after(() => {
  alfa?.cleanup();
  beta?.cleanup();
});

function signerOf(label: string): TestProvider {
  return /anomalia|presa in carico|consegna (completa|breve|sintetica)|mancata consegna \(|rilevazione/.test(
    label,
  ) && !label.startsWith("preavviso")
    ? beta
    : alfa;
}

function opensslVerify(raw: Buffer, caFile: string, file: string): { status: number | null; stderr: string } {
  writeFileSync(file, raw);
  const r = spawnSync("openssl", ["smime", "-verify", "-CAfile", caFile, "-in", file, "-out", "/dev/null"], {
    encoding: "utf8",
  });
  return { status: r.status, stderr: r.stderr };
}

describe("messages built by Domicilio", () => {
  test("the builders cover every type of the rules", () => {
    const types = new Set(built.map((b) => b.msg.type));
    for (const t of [
      "posta-certificata",
      "errore",
      "accettazione",
      "non-accettazione",
      "presa-in-carico",
      "avvenuta-consegna",
      "errore-consegna",
      "preavviso-errore-consegna",
      "rilevazione-virus",
    ]) {
      assert.ok(types.has(t as BuiltPec["type"]), t);
    }
  });

  test("every one verifies with openssl smime -verify against the signing provider's CA", () => {
    for (const { label, msg } of built) {
      const p = signerOf(label);
      const caFile = join(p.dir, "keys", "ca.pem");
      const r = opensslVerify(msg.raw, caFile, join(p.dir, "msg.eml"));
      assert.equal(r.status, 0, `${label}: ${r.stderr}`);
      assert.match(r.stderr, /Verification successful/);
    }
  });

  test("openssl refuses them against another provider's CA (the check can fail)", () => {
    const { label, msg } = built.find((b) => b.label === "ricevuta di accettazione")!;
    const r = opensslVerify(msg.raw, join(beta.dir, "keys", "ca.pem"), join(beta.dir, "other.eml"));
    assert.notEqual(r.status, 0, label);
  });

  test("every one re-reads through our reader to the same type, daticert and correlation keys", () => {
    for (const { label, msg, expectsOriginal } of built) {
      const p = signerOf(label);
      const r = readPec(msg.raw, { trust: p.trust });
      assert.equal(r.pec, msg.type, label);
      assert.equal(r.signature.intact, true, `${label}: ${r.signature.reason}`);
      assert.equal(r.signature.trusted, true, `${label}: ${r.signature.reason}`);
      assert.equal(r.signature.digestAlgorithm, "sha256");
      assert.equal(
        r.signature.signer,
        `CN=posta-certificata@${p.ctx.provider.domain}, O=${p.ctx.provider.name}`,
      );
      assert.deepEqual(r.daticert, msg.daticert, label);
      assert.equal(r.original !== null, expectsOriginal, `${label}: enclosed original`);
      assert.equal(r.messageId, msg.messageId);
      if (msg.type !== "errore") {
        assert.equal(r.correlation.originalMessageId, "<orig-1234@client.example>", label);
        assert.equal(r.correlation.identificativo, tx.identificativo, label);
        assert.equal(r.riferimentoMessageId, "<orig-1234@client.example>", label);
      }
    }
  });

  test("subjects carry the prefix of their type and headers the provider's address", () => {
    const prefixes: Record<string, RegExp> = {
      "busta di trasporto": /^POSTA CERTIFICATA: Fatture & <note>/,
      "busta di anomalia": /^ANOMALIA MESSAGGIO: /,
      "ricevuta di accettazione": /^ACCETTAZIONE: /,
      "avviso di non accettazione (errori formali)": /^AVVISO DI NON ACCETTAZIONE: /,
      "avviso di non accettazione per virus": /^AVVISO DI NON ACCETTAZIONE PER VIRUS: /,
      "ricevuta di presa in carico": /^PRESA IN CARICO: /,
      "ricevuta di avvenuta consegna completa": /^CONSEGNA: /,
      "avviso di mancata consegna (user-unknown)": /^AVVISO DI MANCATA CONSEGNA: /,
      "avviso di mancata consegna (virus)": /^AVVISO DI MANCATA CONSEGNA PER VIRUS: /,
      "preavviso di mancata consegna": /^AVVISO DI MANCATA CONSEGNA PER SUP\. TEMPO MASSIMO: /,
      "rilevazione virus": /^PROBLEMA DI SICUREZZA: /,
    };
    for (const [label, re] of Object.entries(prefixes)) {
      const { msg } = built.find((b) => b.label === label)!;
      const r = readPec(msg.raw);
      assert.match(r.subject ?? "", re, label);
      const from = header(parseMime(msg.raw), "from")!;
      if (label.startsWith("busta"))
        assert.match(from, /^"Per conto di: [^"]+" <posta-certificata@pec\.(alfa|beta)\.it>$/);
      else assert.match(from, /^posta-certificata@pec\.(alfa|beta)\.it$/);
    }
  });

  test("the envelope encloses the original with its Message-ID rewritten to the identificativo", () => {
    const busta = built.find((b) => b.label === "busta di trasporto")!.msg;
    const r = readPec(busta.raw);
    const text = r.original!.toString("utf8");
    assert.match(text, new RegExp(`^Message-ID: <${tx.identificativo.replace(/\./g, "\\.")}>$`, "m"));
    assert.match(text, /^X-Riferimento-Message-ID: <orig-1234@client\.example>$/m);
    assert.doesNotMatch(text, /^Message-ID: <orig-1234@client\.example>$/m);
    assert.equal(busta.messageId, `<${tx.identificativo}>`);
    assert.deepEqual(
      r.daticert!.destinatari.map((d) => d.tipo),
      ["certificato", "esterno", "certificato"],
      "recipients are classified certificato / esterno",
    );
  });

  test("completa keeps the attachment, breve replaces it by its hash, sintetica encloses nothing", () => {
    const get = (k: string) =>
      readPec(built.find((b) => b.label === `ricevuta di avvenuta consegna ${k}`)!.msg.raw);
    const pdf = Buffer.from("%PDF-1.4 finta fattura").toString("base64");
    assert.ok(get("completa").original!.toString("latin1").includes(pdf));
    const breve = get("breve").original!.toString("latin1");
    assert.ok(!breve.includes(pdf));
    assert.match(breve, /SHA-256 \(fattura\.pdf\) = [0-9a-f]{64}/);
    assert.ok(breve.includes("In allegato."), "the text of the original stays");
    assert.equal(get("sintetica").original, null);
    assert.equal(get("sintetica").daticert!.ricevuta, "sintetica");
  });

  test("non-delivery causes follow AgID note 12 in errore-esteso and in the text", () => {
    const msg = built.find((b) => b.label === "avviso di mancata consegna (user-unknown)")!.msg;
    const r = readPec(msg.raw);
    assert.equal(r.daticert!.errore, "no-dest");
    assert.equal(r.daticert!.erroreEsteso, "5.1.1 - Beta PEC S.r.l. - indirizzo non valido");
    assert.ok(msg.raw.toString("latin1").includes("5.1.1 - Beta PEC S.r.l. - indirizzo non valido"));
    const full = readPec(built.find((b) => b.label === "avviso di mancata consegna (box-full)")!.msg.raw);
    assert.equal(full.daticert!.erroreEsteso, "5.2.2 - Beta PEC S.r.l. - casella piena");
    const virus = built.find((b) => b.label === "avviso di mancata consegna (virus)")!.msg;
    assert.match(virus.raw.toString("latin1"), /^X-VerificaSicurezza: errore$/m);
  });

  test("the daticert date is Rome time with its offset", () => {
    const d = readPec(built[0]!.msg.raw).daticert!;
    const now = alfa.ctx.now();
    const rome = new Intl.DateTimeFormat("en-GB", {
      timeZone: "Europe/Rome",
      hour: "2-digit",
      hourCycle: "h23",
    }).format(now);
    assert.equal(d.data.ora.slice(0, 2), rome);
    assert.match(d.data.zona, /^\+0[12]00$/);
  });

  test("changing any single byte of the signed content breaks the signature", () => {
    const msg = built.find((b) => b.label === "ricevuta di accettazione")!.msg;
    const root = parseMime(msg.raw);
    const signed = root.parts[0]!;
    let checked = 0;
    for (let i = signed.start; i < signed.end; i++) {
      const bad = Buffer.from(msg.raw);
      bad[i] = bad[i]! ^ 0x20;
      const r = readPec(bad, { trust: alfa.trust });
      assert.equal(
        r.signature.intact,
        false,
        `byte ${i} (${JSON.stringify(String.fromCharCode(msg.raw[i]!))})`,
      );
      checked++;
    }
    assert.ok(checked > 1000, `checked ${checked} bytes`);
  });

  test("changing sampled bytes of the signed content of every other type breaks its signature too", () => {
    let seed = 12345;
    const next = () => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed;
    };
    for (const { label, msg } of built) {
      const signed = parseMime(msg.raw).parts[0]!;
      for (let k = 0; k < 150; k++) {
        const i = signed.start + (next() % (signed.end - signed.start));
        const bad = Buffer.from(msg.raw);
        bad[i] = bad[i]! ^ (1 + (next() % 255));
        const r = readPec(bad, { trust: signerOf(label).trust });
        assert.equal(r.signature.intact, false, `${label}: byte ${i}`);
      }
    }
  });

  test("changing the signature value itself breaks the signature", () => {
    const msg = built.find((b) => b.label === "busta di trasporto")!.msg;
    const sigPart = parseMime(msg.raw).parts[1]!;
    const text = msg.raw.toString("latin1");
    // The RSA signature is the last field of the CMS: its base64 sits just before the closing boundary.
    const lastLine = text.lastIndexOf("\r\n", text.lastIndexOf("\r\n\r\n", sigPart.end) - 1) + 2;
    const bad = Buffer.from(msg.raw);
    bad[lastLine + 2] = bad[lastLine + 2] === 0x41 ? 0x42 : 0x41;
    const r = readPec(bad, { trust: alfa.trust });
    assert.equal(r.signature.intact, false, r.signature.reason ?? "");
  });

  test("a message signed by a provider missing from the index is reported untrusted until it is imported", () => {
    const msg = built.find((b) => b.label === "ricevuta di presa in carico")!.msg;
    const index = ProvidersIndex.fromEntries([ownProviderEntry(alfa.ctx.provider, alfa.keys)]);
    const before = readPec(msg.raw, { trust: index.trustStore() });
    assert.equal(before.signature.intact, true);
    assert.equal(before.signature.trusted, false);
    assert.equal(index.providerForCertificate(before.signature.signerCertificate!), null);
    const both = ProvidersIndex.fromEntries([
      ownProviderEntry(alfa.ctx.provider, alfa.keys),
      ownProviderEntry(beta.ctx.provider, beta.keys),
    ]);
    const afterImport = readPec(msg.raw, { trust: both.trustStore() });
    assert.equal(afterImport.signature.trusted, true);
    assert.equal(
      both.providerForCertificate(afterImport.signature.signerCertificate!)?.name,
      "Beta PEC S.r.l.",
    );
  });

  test("every built message still verifies after a round trip through the store, byte for byte", async () => {
    const t = await createTempStore("sqlite");
    try {
      const box = await t.store.createMailbox({
        address: "anna.neri@pec.beta.it",
        passwordHash: "x",
        quotaBytes: 1e9,
      });
      const inbox = (await t.store.getFolder(box.id, "INBOX"))!;
      const res = await t.store.appendMessages(
        box.id,
        inbox.id,
        built.map((b) => ({ bytes: b.msg.raw })),
      );
      for (const [i, m] of res.messages.entries()) {
        const back = await t.store.readBlob(m.blobId);
        const { label, msg } = built[i]!;
        assert.ok(back.equals(msg.raw), `${label}: bytes differ after the store`);
        const r = readPec(back, { trust: signerOf(label).trust });
        assert.equal(r.signature.intact, true, label);
        assert.equal(r.signature.trusted, true, label);
      }
    } finally {
      await t.close();
    }
  });
});
