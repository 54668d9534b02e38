// daticert.xml build and parse (RFC 6109 §4.2) and the Europe/Rome dates it carries.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { buildDaticert, type Daticert, parseDaticert } from "../../src/pec/daticert.js";
import { PecParseError } from "../../src/pec/errors.js";
import { rfc5322Date, romeDate } from "../../src/pec/rome-time.js";

function sample(over: Partial<Daticert> = {}): Daticert {
  return {
    tipo: "avvenuta-consegna",
    errore: "nessuno",
    mittente: "mario.rossi@pec.alfa.it",
    destinatari: [
      { tipo: "certificato", indirizzo: "anna.neri@pec.beta.it" },
      { tipo: "esterno", indirizzo: "luca@example.com" },
    ],
    risposte: "mario.rossi@pec.alfa.it",
    oggetto: "Fattura n. 12",
    gestoreEmittente: "Alfa PEC S.p.A.",
    data: { giorno: "05/12/2024", ora: "00:02:10", zona: "+0100" },
    identificativo: "domicilio.20241205000210.0011223344556677@pec.alfa.it",
    msgid: "<orig-1234@client.example>",
    ricevuta: "completa",
    consegna: "anna.neri@pec.beta.it",
    ricezione: [],
    erroreEsteso: null,
    ...over,
  };
}

const parseError = (code: string) => (err: unknown) => err instanceof PecParseError && err.code === code;

describe("daticert.xml", () => {
  test("every element and attribute of the schema survives build then parse", () => {
    const d = sample({
      tipo: "presa-in-carico",
      errore: "altro",
      ricezione: ["anna.neri@pec.beta.it", "ufficio@pec.beta.it"],
      erroreEsteso: "5.1.1 - Beta PEC - indirizzo non valido",
      ricevuta: "sintetica",
    });
    assert.deepEqual(parseDaticert(buildDaticert(d)), d);
  });

  for (const oggetto of [
    "Fatture & note di credito",
    "<script>alert(1)</script> \"quoted\" 'single'",
    "Perché così? Città, caffè, ÀÈÌÒÙ",
    "Emoji 😀🇮🇹 e ideogrammi 漢字",
    "]]> <![CDATA[ x ]]>",
    "  spazi iniziali e finali  ",
  ]) {
    test(`a subject like ${JSON.stringify(oggetto)} is escaped and read back unchanged`, () => {
      const xml = buildDaticert(sample({ oggetto, mittente: "a&b@pec.alfa.it" }));
      assert.ok(!xml.includes(oggetto) || !/[&<>]/.test(oggetto), "special characters are escaped");
      const back = parseDaticert(xml);
      assert.equal(back.oggetto, oggetto);
      assert.equal(back.mittente, "a&b@pec.alfa.it");
    });
  }

  test("control characters XML cannot carry are replaced, not emitted", () => {
    const xml = buildDaticert(sample({ oggetto: "a\u0001b\u0008c" }));
    assert.equal(parseDaticert(xml).oggetto, "a\ufffdb\ufffdc");
  });

  test("optional elements absent are absent after parsing", () => {
    const d = sample({ tipo: "accettazione", ricevuta: null, consegna: null, msgid: null, oggetto: null });
    const xml = buildDaticert(d);
    assert.ok(!xml.includes("<ricevuta") && !xml.includes("<consegna") && !xml.includes("<msgid"));
    assert.deepEqual(parseDaticert(xml), d);
  });

  test("attributes the DTD defaults are read with their defaults when absent", () => {
    const xml = buildDaticert(sample())
      .replace(' errore="nessuno"', "")
      .replace('<ricevuta tipo="completa" />', "<ricevuta/>")
      .replace('<destinatari tipo="certificato">', "<destinatari>");
    const d = parseDaticert(xml);
    assert.equal(d.errore, "nessuno");
    assert.equal(d.ricevuta, "completa");
    assert.equal(d.destinatari[0]!.tipo, "certificato");
  });

  test("an ISO-8859-1 daticert is decoded by its declaration", () => {
    const xml = buildDaticert(sample({ oggetto: "Città" })).replace(
      'encoding="UTF-8"',
      'encoding="ISO-8859-1"',
    );
    assert.equal(parseDaticert(Buffer.from(xml, "latin1")).oggetto, "Città");
  });

  test("a billion-laughs entity bomb is refused before any parser expands it", () => {
    const bomb =
      '<?xml version="1.0"?><!DOCTYPE postacert [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">' +
      '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">]>' +
      '<postacert tipo="accettazione" errore="nessuno"><intestazione><mittente>&d;</mittente></intestazione></postacert>';
    assert.throws(() => parseDaticert(bomb), parseError("xml-forbidden"));
  });

  test("an external entity (XXE) is refused", () => {
    const xxe =
      '<?xml version="1.0"?><!DOCTYPE p [<!ENTITY x SYSTEM "file:///etc/passwd">]>' +
      '<postacert tipo="accettazione" errore="nessuno"><intestazione><mittente>&x;</mittente></intestazione></postacert>';
    assert.throws(() => parseDaticert(xxe), parseError("xml-forbidden"));
  });

  test("malformed XML, unknown tipo and missing elements end in typed errors", () => {
    const good = buildDaticert(sample());
    assert.throws(() => parseDaticert(good.slice(0, good.length / 2)), parseError("xml-invalid"));
    assert.throws(
      () => parseDaticert(good.replace('tipo="avvenuta-consegna"', 'tipo="boh"')),
      parseError("daticert-invalid"),
    );
    assert.throws(
      () => parseDaticert(good.replace(/<identificativo>.*<\/identificativo>/, "")),
      parseError("daticert-invalid"),
    );
    assert.throws(
      () => parseDaticert("<a>".repeat(100_000)),
      (e: unknown) => e instanceof PecParseError,
    );
  });
});

describe("dates in Europe/Rome", () => {
  test("winter time is +0100 and summer time is +0200", () => {
    assert.deepEqual(romeDate(new Date("2024-12-04T23:02:10Z")), {
      giorno: "05/12/2024",
      ora: "00:02:10",
      zona: "+0100",
    });
    assert.deepEqual(romeDate(new Date("2024-07-01T10:00:00Z")), {
      giorno: "01/07/2024",
      ora: "12:00:00",
      zona: "+0200",
    });
  });

  test("the offset changes at the exact instants of the 2024 daylight saving switches", () => {
    // Last Sunday of March, 01:00 UTC: 02:00 CET becomes 03:00 CEST.
    assert.deepEqual(romeDate(new Date("2024-03-31T00:59:59Z")), {
      giorno: "31/03/2024",
      ora: "01:59:59",
      zona: "+0100",
    });
    assert.deepEqual(romeDate(new Date("2024-03-31T01:00:00Z")), {
      giorno: "31/03/2024",
      ora: "03:00:00",
      zona: "+0200",
    });
    // Last Sunday of October, 01:00 UTC: 03:00 CEST becomes 02:00 CET; 02:30 happens twice.
    assert.deepEqual(romeDate(new Date("2024-10-27T00:30:00Z")), {
      giorno: "27/10/2024",
      ora: "02:30:00",
      zona: "+0200",
    });
    assert.deepEqual(romeDate(new Date("2024-10-27T01:30:00Z")), {
      giorno: "27/10/2024",
      ora: "02:30:00",
      zona: "+0100",
    });
  });

  test("the Date header is written in Rome time with the weekday of the local date", () => {
    assert.equal(rfc5322Date(new Date("2024-12-04T23:02:10Z")), "Thu, 05 Dec 2024 00:02:10 +0100");
    assert.equal(rfc5322Date(new Date("2024-07-01T10:00:00Z")), "Mon, 01 Jul 2024 12:00:00 +0200");
  });
});
