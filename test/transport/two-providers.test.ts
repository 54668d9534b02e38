// Two `domicilio serve` processes as two PEC providers (different domains, keys and CAs, each listing the
// other in its index) on loopback, an ordinary mail server standing for the Internet, and clamd with an
// EICAR-only database. Members submit with nodemailer and read with imapflow; every PEC message that
// results is checked with `openssl smime -verify` against its issuer's CA and read for its daticert.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import nodemailer from "nodemailer";
import { readPec } from "../../src/pec/reader.js";
import { runCli } from "../helpers/cli.js";
import {
  type Clamd,
  createProvider,
  EICAR,
  type Fetched,
  opensslVerifies,
  type Provider,
  readInbox,
  routes,
  type Sink,
  sendToMx,
  startClamd,
  startProvider,
  startSink,
  stopProvider,
  submit,
  trustEachOther,
  waitFor,
  waitForTypes,
  withProviderStore,
} from "../helpers/pec-service.js";

let root: string;
let A: Provider;
let B: Provider;
/** A third provider Beta does not know at first (not in Beta's index). */
let C: Provider;
let sink: Sink;
let clamd: Clamd;

/** The message verifies with openssl against `issuer`'s CA and carries the daticert the rules ask for. */
function certified(m: Fetched, issuer: Provider, tipo: string) {
  assert.ok(opensslOk(m, issuer), `${m.subject}: openssl smime -verify against ${issuer.spec.name}'s CA`);
  const r = readPec(m.raw);
  assert.equal(r.pec, tipo);
  assert.ok(r.daticert, `${m.subject}: daticert.xml present`);
  const d = r.daticert!;
  assert.equal(d.tipo, tipo);
  assert.equal(d.gestoreEmittente, issuer.spec.name);
  assert.match(d.identificativo, /@/);
  assert.match(d.data.giorno, /^\d{2}\/\d{2}\/\d{4}$/);
  assert.match(d.data.zona, /^[+-]\d{4}$/);
  return { reading: r, d };
}

function opensslOk(m: Fetched, issuer: Provider) {
  return opensslVerifies(m.raw, issuer.caPem);
}

before(async () => {
  root = mkdtempSync(join(tmpdir(), "domicilio-two-"));
  sink = await startSink();
  clamd = await startClamd();
  A = await createProvider(root, {
    name: "Alfa PEC S.p.A.",
    domain: "pec.alfa.it",
    boxes: ["mario", "giulia", "carla", "dario", "elena"],
  });
  B = await createProvider(root, {
    name: "Beta Posta Certificata",
    domain: "pec.beta.it",
    boxes: ["anna", "bruno", "piena:4000", "chiusa", "aperta", "inoltro", "franco", "gino"],
    // Only Beta scans: Alfa lets an infected envelope travel so Beta's incoming point meets it.
    toml: `[antivirus]\nclamdSocket = "${clamd.socket}"`,
  });
  C = await createProvider(root, { name: "Gamma PEC", domain: "pec.gamma.it", boxes: ["zeno"] });
  trustEachOther([A, B]);
  // Gamma knows Beta; Beta learns of Gamma only in the test, while running.
  const bExport = join(root, "beta.json");
  writeFileSync(bExport, runCli(["provider", "export", "--data", B.dir]).stdout);
  assert.equal(runCli(["provider", "import", bExport, "--data", C.dir]).status, 0);
  await withProviderStore(B, async (s) => {
    const chiusa = await s.getMailbox("chiusa@pec.beta.it");
    await s.setMailboxState(chiusa!.id, "deactivated");
    const aperta = await s.getMailbox("aperta@pec.beta.it");
    await s.updateSettings(aperta!.id, { ordinaryMail: "accept" });
    const inoltro = await s.getMailbox("inoltro@pec.beta.it");
    await s.updateSettings(inoltro!.id, {
      ordinaryMail: "forward",
      forwardTo: "inoltro.privato@ordinaria.it",
    });
  });
  await startProvider(A, {
    DOMICILIO_ROUTES: routes({ "pec.beta.it": B.smtpPort, "ordinaria.it": sink.port }),
  });
  await startProvider(B, {
    DOMICILIO_ROUTES: routes({
      "pec.alfa.it": A.smtpPort,
      "pec.gamma.it": C.smtpPort,
      "ordinaria.it": sink.port,
    }),
  });
  await startProvider(C, { DOMICILIO_ROUTES: routes({ "pec.beta.it": B.smtpPort }) });
});

after(async () => {
  await Promise.all([A && stopProvider(A), B && stopProvider(B), C && stopProvider(C)]);
  await sink?.close();
  await clamd?.stop();
  if (root) rmSync(root, { recursive: true, force: true });
});

describe("two providers on loopback", { timeout: 120_000 }, () => {
  test("a certified message to the other provider yields acceptance, envelope and delivery receipt, each signed by its issuer", async () => {
    const tag = "Fattura 1";
    const reply = await submit(A, "mario", {
      to: B.address("anna"),
      subject: `${tag} città`,
      text: "Buongiorno.",
    });
    assert.match(reply, /^250 /);
    const sent = await waitForTypes(A, "mario", tag, ["accettazione", "avvenuta-consegna"]);
    const got = await waitForTypes(B, "anna", tag, ["posta-certificata"]);
    const acc = certified(sent.find((m) => m.pecType === "accettazione")!, A, "accettazione");
    const cons = certified(sent.find((m) => m.pecType === "avvenuta-consegna")!, B, "avvenuta-consegna");
    const env = certified(got[0]!, A, "posta-certificata");
    assert.equal(acc.d.identificativo, env.d.identificativo);
    assert.equal(cons.d.identificativo, env.d.identificativo);
    assert.equal(cons.d.consegna, "anna@pec.beta.it");
    assert.equal(cons.d.ricevuta, "completa");
    assert.ok(cons.reading.original, "a completa receipt encloses the original");
    assert.deepEqual(env.d.destinatari, [{ tipo: "certificato", indirizzo: "anna@pec.beta.it" }]);
    assert.equal(env.d.mittente, "mario@pec.alfa.it");
    assert.match(got[0]!.subject, /^POSTA CERTIFICATA: Fattura 1 città$/);
    assert.ok(env.reading.original?.includes("Buongiorno."));
    // Beta's presa in carico reached Alfa's posta-certificata@ and is in Alfa's registro.
    await waitFor("presa in carico in Alfa's registro", async () => {
      const r = runCli(["log", "export", "--box", "mario@pec.alfa.it", "--data", A.dir]);
      return r.stdout.includes('"event":"presa-in-carico"') && r.stdout.includes("Beta Posta Certificata");
    });
  });

  test("the other way round, several recipients on both providers each get the envelope and the sender one receipt per recipient", async () => {
    const tag = "Convocazione 2";
    await submit(B, "anna", {
      to: [A.address("giulia"), A.address("carla")],
      cc: B.address("bruno"),
      subject: tag,
      text: "Assemblea.",
    });
    const sent = await waitForTypes(B, "anna", tag, [
      "accettazione",
      "avvenuta-consegna",
      "avvenuta-consegna",
      "avvenuta-consegna",
    ]);
    const consegne = sent.filter((m) => m.pecType === "avvenuta-consegna");
    const issuers = new Map([
      ["giulia@pec.alfa.it", A],
      ["carla@pec.alfa.it", A],
      ["bruno@pec.beta.it", B],
    ]);
    const who = consegne.map((m) => {
      const c = readPec(m.raw).daticert!.consegna!;
      certified(m, issuers.get(c)!, "avvenuta-consegna");
      return c;
    });
    assert.deepEqual(who.sort(), ["bruno@pec.beta.it", "carla@pec.alfa.it", "giulia@pec.alfa.it"]);
    certified(sent.find((m) => m.pecType === "accettazione")!, B, "accettazione");
    for (const [p, local] of [
      [A, "giulia"],
      [A, "carla"],
      [B, "bruno"],
    ] as const) {
      const [env] = await waitForTypes(p, local, tag, ["posta-certificata"]);
      certified(env!, B, "posta-certificata");
    }
  });

  test("an ordinary recipient gets the envelope by plain SMTP, marked esterno, and gives no delivery receipt", async () => {
    const tag = "Misto 3";
    await submit(A, "carla", { to: [B.address("franco"), "luca@ordinaria.it"], subject: tag, text: "Ciao." });
    const sent = await waitForTypes(A, "carla", tag, ["accettazione", "avvenuta-consegna"]);
    const acc = certified(sent.find((m) => m.pecType === "accettazione")!, A, "accettazione");
    assert.deepEqual(acc.d.destinatari, [
      { tipo: "certificato", indirizzo: "franco@pec.beta.it" },
      { tipo: "esterno", indirizzo: "luca@ordinaria.it" },
    ]);
    const out = await waitFor("the envelope at the ordinary server", async () =>
      sink.messages.find((m) => m.to.includes("luca@ordinaria.it") && m.raw.includes(tag)),
    );
    const env = readPec(out.raw);
    assert.equal(env.pec, "posta-certificata");
    assert.ok(opensslVerifies(out.raw, A.caPem));
    assert.equal(out.from, "carla@pec.alfa.it");
    const cons = sent.filter((m) => m.pecType === "avvenuta-consegna");
    assert.equal(cons.length, 1);
    assert.equal(readPec(cons[0]!.raw).daticert!.consegna, "franco@pec.beta.it");
  });

  test("X-TipoRicevuta breve and sintetica give receipts with hashed attachments and with no original", async () => {
    const attachments = [{ filename: "fattura.pdf", content: Buffer.from("%PDF-1.4 finta") }];
    await submit(A, "dario", {
      to: B.address("gino"),
      subject: "Breve 4",
      text: "Allegato.",
      attachments,
      headers: { "X-TipoRicevuta": "breve" },
    });
    await submit(A, "dario", {
      to: B.address("gino"),
      subject: "Sintetica 4",
      text: "Allegato.",
      attachments,
      headers: { "X-TipoRicevuta": "sintetica" },
    });
    const [breve] = (await waitForTypes(A, "dario", "Breve 4", ["avvenuta-consegna"])).filter(
      (m) => m.pecType === "avvenuta-consegna",
    );
    const [sintetica] = (await waitForTypes(A, "dario", "Sintetica 4", ["avvenuta-consegna"])).filter(
      (m) => m.pecType === "avvenuta-consegna",
    );
    const b = certified(breve!, B, "avvenuta-consegna");
    assert.equal(b.d.ricevuta, "breve");
    assert.ok(b.reading.original, "breve encloses the original");
    assert.match(b.reading.original!.toString("latin1"), /fattura\.pdf\.hash/);
    assert.doesNotMatch(b.reading.original!.toString("latin1"), /JVBERi0xLjQgZmludGE=/);
    const s = certified(sintetica!, B, "avvenuta-consegna");
    assert.equal(s.d.ricevuta, "sintetica");
    assert.equal(s.reading.original, null);
  });

  test("no such box, a full box and a deactivated box each give a non-delivery notice with its cause", async () => {
    const tag = "Cause 5";
    await submit(A, "giulia", {
      to: [B.address("nessuno"), B.address("piena"), B.address("chiusa")],
      subject: tag,
      text: "x".repeat(3000),
    });
    const sent = await waitForTypes(A, "giulia", tag, [
      "accettazione",
      "errore-consegna",
      "errore-consegna",
      "errore-consegna",
    ]);
    const causes = new Map<string, string>();
    for (const m of sent.filter((x) => x.pecType === "errore-consegna")) {
      const { d } = certified(m, B, "errore-consegna");
      causes.set(d.consegna!, `${d.errore} ${d.erroreEsteso}`);
    }
    assert.match(causes.get("nessuno@pec.beta.it")!, /^no-dest 5\.1\.1 - Beta Posta Certificata - /);
    assert.match(causes.get("piena@pec.beta.it")!, /^altro 5\.2\.2 /);
    assert.match(causes.get("chiusa@pec.beta.it")!, /^altro 5\.2\.1 /);
    assert.equal((await readInbox(B, "piena")).length, 0);
  });

  test("between boxes of one provider, a box that can take it gets the envelope with the sender's receipts in order, and missing, full and deactivated boxes each get their notice", async () => {
    const tag = "Interna 5";
    await submit(B, "franco", {
      to: [B.address("gino"), B.address("nessuno"), B.address("piena"), B.address("chiusa")],
      subject: tag,
      text: "y".repeat(3000),
    });
    const sent = await waitForTypes(B, "franco", tag, [
      "accettazione",
      "avvenuta-consegna",
      "errore-consegna",
      "errore-consegna",
      "errore-consegna",
    ]);
    const acceptance = sent.find((m) => m.pecType === "accettazione")!;
    const receipt = sent.find((m) => m.pecType === "avvenuta-consegna")!;
    certified(acceptance, B, "accettazione");
    const { d } = certified(receipt, B, "avvenuta-consegna");
    assert.equal(d.consegna, "gino@pec.beta.it");
    assert.ok(acceptance.uid < receipt.uid, "the acceptance comes before the delivery receipt");
    const causes = sent
      .filter((m) => m.pecType === "errore-consegna")
      .map((m) => certified(m, B, "errore-consegna").d)
      .map((x) => `${x.consegna} ${x.errore}`)
      .sort();
    assert.deepEqual(causes, [
      "chiusa@pec.beta.it altro",
      "nessuno@pec.beta.it no-dest",
      "piena@pec.beta.it altro",
    ]);
    const [env] = await waitForTypes(B, "gino", tag, ["posta-certificata"]);
    certified(env!, B, "posta-certificata");
    assert.equal(readPec(env!.raw).daticert!.identificativo, d.identificativo);
    assert.equal((await readInbox(B, "piena")).length, 0);
    // Exactly one of each: nothing delivered twice by a job running after the direct delivery.
    assert.equal((await readInbox(B, "gino")).filter((m) => m.subject.includes(tag)).length, 1);
    assert.equal(sent.length, 5);
  });

  test("a message to one's own box arrives in the order of events: acceptance, envelope, delivery receipt", async () => {
    const tag = "A me stesso 5";
    await submit(B, "gino", { to: [B.address("gino")], subject: tag, text: "Promemoria." });
    const box = await waitForTypes(B, "gino", tag, [
      "accettazione",
      "posta-certificata",
      "avvenuta-consegna",
    ]);
    assert.deepEqual(
      box.sort((a, b) => a.uid - b.uid).map((m) => m.pecType),
      ["accettazione", "posta-certificata", "avvenuta-consegna"],
    );
  });

  test("ordinary mail is refused at SMTP by default, wrapped in a busta di anomalia when accepted, forwarded when asked", async () => {
    const raw = (to: string) =>
      `From: Luca <luca@ordinaria.it>\r\nTo: ${to}\r\nSubject: Ordinaria 6\r\nMessage-ID: <ord6-${to}@ordinaria.it>\r\n\r\nCiao.\r\n`;
    await assert.rejects(
      sendToMx(B, { from: "luca@ordinaria.it", to: ["anna@pec.beta.it"] }, raw("anna@pec.beta.it")),
      (err: { responseCode?: number; response?: string }) =>
        err.responseCode === 550 && /^550 5\.7\.1 /.test(err.response ?? ""),
    );
    await sendToMx(B, { from: "luca@ordinaria.it", to: ["aperta@pec.beta.it"] }, raw("aperta@pec.beta.it"));
    const [anomalia] = await waitForTypes(B, "aperta", "Ordinaria 6", ["errore"]);
    assert.ok(opensslVerifies(anomalia!.raw, B.caPem));
    const r = readPec(anomalia!.raw);
    assert.equal(r.pec, "errore");
    assert.match(anomalia!.subject, /^ANOMALIA MESSAGGIO: Ordinaria 6$/);
    assert.ok(r.original?.includes("Ciao."));
    await sendToMx(B, { from: "luca@ordinaria.it", to: ["inoltro@pec.beta.it"] }, raw("inoltro@pec.beta.it"));
    const fwd = await waitFor("the forwarded message", async () =>
      sink.messages.find((m) => m.to.includes("inoltro.privato@ordinaria.it")),
    );
    assert.ok(fwd.raw.includes("Subject: Ordinaria 6"));
    assert.equal((await readInbox(B, "inoltro")).length, 0);
  });

  test("ordinary mail to a box that takes it and one that refuses it: the second is deferred at RCPT, then refused on its own", async () => {
    const raw = `From: Luca <luca@ordinaria.it>\r\nTo: aperta@pec.beta.it, anna@pec.beta.it\r\nSubject: Ordinaria 6b\r\nMessage-ID: <ord6b@ordinaria.it>\r\n\r\nCiao a entrambi.\r\n`;
    const t = nodemailer.createTransport({
      host: "127.0.0.1",
      port: B.smtpPort,
      secure: false,
      ignoreTLS: true,
      name: "mx.sender.example",
    });
    try {
      const info = await t.sendMail({
        envelope: { from: "luca@ordinaria.it", to: ["aperta@pec.beta.it", "anna@pec.beta.it"] },
        raw,
      });
      // One DATA answer cannot be 250 for one box and 550 for the other: the refusing box is left for a
      // transaction of its own (452 4.5.3), where it is refused (not dropped without a word).
      assert.deepEqual(info.accepted, ["aperta@pec.beta.it"]);
      assert.deepEqual(info.rejected, ["anna@pec.beta.it"]);
      assert.match(String(info.rejectedErrors?.[0]?.response), /^452 4\.5\.3 /);
      await waitForTypes(B, "aperta", "Ordinaria 6b", ["errore"]);
      await assert.rejects(
        t.sendMail({ envelope: { from: "luca@ordinaria.it", to: ["anna@pec.beta.it"] }, raw }),
        (err: { responseCode?: number }) => err.responseCode === 550,
      );
    } finally {
      t.close();
    }
    assert.equal((await readInbox(B, "anna")).filter((m) => m.subject.includes("Ordinaria 6b")).length, 0);
  });

  test("the same envelope sent again (a lost 250) is delivered once and taken in charge once", async () => {
    const tag = "Ripetuta 6c";
    await submit(A, "elena", { to: B.address("bruno"), subject: tag, text: "Una volta sola." });
    const [env] = await waitForTypes(B, "bruno", tag, ["posta-certificata"]);
    const events = () =>
      withProviderStore(B, async (s) => {
        const out: string[] = [];
        for await (const e of s.transport().logEntries())
          if (e.subject === tag && e.sender === "elena@pec.alfa.it") out.push(e.event);
        return out;
      });
    await waitFor("the first envelope's registro entries", async () =>
      (await events()).includes("presa-in-carico"),
    );
    await sendToMx(B, { from: "elena@pec.alfa.it", to: ["bruno@pec.beta.it"] }, env!.raw);
    await waitFor("the second copy handled", async () => (await events()).includes("busta-ripetuta"));
    const e = await events();
    assert.equal(e.filter((x) => x === "presa-in-carico").length, 1, e.join(", "));
    assert.equal((await readInbox(B, "bruno")).filter((m) => m.subject.includes(tag)).length, 1);
  });

  test("a tampered envelope is not valid PEC: refused for a refusing box, an anomaly for an accepting one", async () => {
    const tag = "Integro 7";
    await submit(A, "elena", { to: B.address("bruno"), subject: tag, text: "Testo originale." });
    const [env] = await waitForTypes(B, "bruno", tag, ["posta-certificata"]);
    const tampered = Buffer.from(
      env!.raw.toString("latin1").replace("Testo originale.", "Testo alterato!!"),
      "latin1",
    );
    assert.notDeepEqual(tampered, env!.raw);
    assert.equal(readPec(tampered).signature.intact, false);
    await assert.rejects(
      sendToMx(B, { from: "elena@pec.alfa.it", to: ["anna@pec.beta.it"] }, tampered),
      (err: { responseCode?: number }) => err.responseCode === 550,
    );
    await sendToMx(B, { from: "elena@pec.alfa.it", to: ["aperta@pec.beta.it"] }, tampered);
    const [anomalia] = await waitForTypes(B, "aperta", tag, ["errore"]);
    assert.ok(opensslVerifies(anomalia!.raw, B.caPem));
    assert.equal(readPec(anomalia!.raw).original?.includes("Testo alterato!!"), true);
  });

  test("EICAR is refused at the access point and detected at the incoming point, with the virus notices", async () => {
    const attachments = [{ filename: "eicar.com", content: EICAR }];
    // Access point of Beta (which scans): avviso di non accettazione per virus, nothing travels.
    await submit(B, "franco", { to: A.address("elena"), subject: "Virus 8a", text: "x", attachments });
    const [nonAcc] = (await waitForTypes(B, "franco", "Virus 8a", ["non-accettazione"])).filter(
      (m) => m.pecType === "non-accettazione",
    );
    const na = certified(nonAcc!, B, "non-accettazione");
    assert.equal(na.d.errore, "virus");
    assert.match(nonAcc!.subject, /^AVVISO DI NON ACCETTAZIONE PER VIRUS: /);
    assert.match(nonAcc!.raw.toString("latin1"), /^X-VerificaSicurezza: errore/m);
    // Incoming point of Beta: Alfa (which does not scan) sends the envelope; Beta sends rilevazione virus
    // to Alfa, which tells the sender with an avviso di mancata consegna per virus.
    await submit(A, "mario", { to: B.address("gino"), subject: "Virus 8b", text: "x", attachments });
    const sent = await waitForTypes(A, "mario", "Virus 8b", ["accettazione", "errore-consegna"]);
    const mc = certified(sent.find((m) => m.pecType === "errore-consegna")!, A, "errore-consegna");
    assert.equal(mc.d.errore, "virus");
    assert.equal(mc.d.consegna, "gino@pec.beta.it");
    assert.equal((await readInbox(B, "gino")).filter((m) => m.subject.includes("Virus 8b")).length, 0);
    assert.equal((await readInbox(A, "elena")).filter((m) => m.subject.includes("Virus 8a")).length, 0);
    const log = runCli(["log", "export", "--box", "gino@pec.beta.it", "--data", B.dir]).stdout;
    assert.match(log, /"event":"virus"/);
  });

  test("an envelope from a provider missing from the index is refused; after `provider import` into the running server it is delivered", async () => {
    await submit(C, "zeno", { to: B.address("anna"), subject: "Indice 9a", text: "x" });
    const [mc] = (await waitForTypes(C, "zeno", "Indice 9a", ["accettazione", "errore-consegna"])).filter(
      (m) => m.pecType === "errore-consegna",
    );
    const d = certified(mc!, C, "errore-consegna").d;
    assert.equal(d.consegna, "anna@pec.beta.it");
    const file = join(root, "gamma.json");
    writeFileSync(file, runCli(["provider", "export", "--data", C.dir]).stdout);
    assert.equal(runCli(["provider", "import", file, "--data", B.dir]).status, 0);
    await new Promise((r) => setTimeout(r, 1500)); // the index looks at its folder at most once a second
    await submit(C, "zeno", { to: B.address("anna"), subject: "Indice 9b", text: "x" });
    const got = await waitForTypes(C, "zeno", "Indice 9b", ["accettazione", "avvenuta-consegna"]);
    certified(got.find((m) => m.pecType === "avvenuta-consegna")!, B, "avvenuta-consegna");
    const [env] = await waitForTypes(B, "anna", "Indice 9b", ["posta-certificata"]);
    certified(env!, C, "posta-certificata");
  });
});
