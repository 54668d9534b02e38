// daticert.xml, the certification data every envelope and receipt carries (RFC 6109 §4.2, the DTD of the
// technical annex). Built by hand, because element order and escaping are the schema's; parsed with
// fast-xml-parser after refusing DTDs, so entity bombs and external entities never reach a parser.
import { XMLParser, XMLValidator } from "fast-xml-parser";
import { PecParseError } from "./errors.js";
import { MAX_DATICERT_BYTES, MAX_DATICERT_RECIPIENTS } from "./limits.js";
import type { RomeDate } from "./rome-time.js";

export const DATICERT_TIPI = [
  "accettazione",
  "non-accettazione",
  "presa-in-carico",
  "avvenuta-consegna",
  "posta-certificata",
  "errore-consegna",
  "preavviso-errore-consegna",
  "rilevazione-virus",
] as const;
export type DaticertTipo = (typeof DATICERT_TIPI)[number];

export const DATICERT_ERRORI = ["nessuno", "no-dest", "no-dominio", "virus", "altro"] as const;
export type DaticertErrore = (typeof DATICERT_ERRORI)[number];

export type RicevutaTipo = "completa" | "breve" | "sintetica";
export type DestinatarioTipo = "certificato" | "esterno";

export interface Destinatario {
  tipo: DestinatarioTipo;
  indirizzo: string;
}

export interface Daticert {
  tipo: DaticertTipo;
  errore: DaticertErrore;
  mittente: string;
  destinatari: Destinatario[];
  /** Reply-To of the original (RFC 6109 §4.2 `risposte`) */
  risposte: string;
  oggetto: string | null;
  gestoreEmittente: string;
  data: RomeDate;
  identificativo: string;
  /** original Message-ID with its angle brackets */
  msgid: string | null;
  ricevuta: RicevutaTipo | null;
  consegna: string | null;
  ricezione: string[];
  erroreEsteso: string | null;
}

/** The JSON shape of `domicilio pec inspect --json` (docs/contract.md). */
export interface DaticertJson {
  tipo: string;
  errore: string;
  "gestore-emittente": string;
  identificativo: string;
  msgid: string | null;
  ricevuta: string | null;
  consegna: string | null;
  mittente: string;
  destinatari: Destinatario[];
  oggetto: string | null;
  data: RomeDate;
}

export function daticertToJson(d: Daticert): DaticertJson {
  return {
    tipo: d.tipo,
    errore: d.errore,
    "gestore-emittente": d.gestoreEmittente,
    identificativo: d.identificativo,
    msgid: d.msgid,
    ricevuta: d.ricevuta,
    consegna: d.consegna,
    mittente: d.mittente,
    destinatari: d.destinatari,
    oggetto: d.oggetto,
    data: d.data,
  };
}

/** XML 1.0 §2.2 allows neither C0 controls (but tab, LF, CR) nor lone surrogates: replace them. */
function xmlText(s: string): string {
  return s
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g, "\ufffd")
    .replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, "\ufffd")
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&apos;");
}

export function buildDaticert(d: Daticert): string {
  const L: string[] = [];
  L.push(`<?xml version="1.0" encoding="UTF-8"?>`);
  L.push(`<postacert tipo="${xmlText(d.tipo)}" errore="${xmlText(d.errore)}">`);
  L.push("  <intestazione>");
  L.push(`    <mittente>${xmlText(d.mittente)}</mittente>`);
  for (const r of d.destinatari) {
    L.push(`    <destinatari tipo="${xmlText(r.tipo)}">${xmlText(r.indirizzo)}</destinatari>`);
  }
  L.push(`    <risposte>${xmlText(d.risposte)}</risposte>`);
  if (d.oggetto !== null) L.push(`    <oggetto>${xmlText(d.oggetto)}</oggetto>`);
  L.push("  </intestazione>");
  L.push("  <dati>");
  L.push(`    <gestore-emittente>${xmlText(d.gestoreEmittente)}</gestore-emittente>`);
  L.push(`    <data zona="${xmlText(d.data.zona)}">`);
  L.push(`      <giorno>${xmlText(d.data.giorno)}</giorno>`);
  L.push(`      <ora>${xmlText(d.data.ora)}</ora>`);
  L.push("    </data>");
  L.push(`    <identificativo>${xmlText(d.identificativo)}</identificativo>`);
  if (d.msgid !== null) L.push(`    <msgid>${xmlText(d.msgid)}</msgid>`);
  if (d.ricevuta !== null) L.push(`    <ricevuta tipo="${xmlText(d.ricevuta)}" />`);
  if (d.consegna !== null) L.push(`    <consegna>${xmlText(d.consegna)}</consegna>`);
  for (const r of d.ricezione) L.push(`    <ricezione>${xmlText(r)}</ricezione>`);
  if (d.erroreEsteso !== null) L.push(`    <errore-esteso>${xmlText(d.erroreEsteso)}</errore-esteso>`);
  L.push("  </dati>");
  L.push("</postacert>");
  return `${L.join("\n")}\n`;
}

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: "@_",
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: false,
  processEntities: true,
  htmlEntities: false,
  ignoreDeclaration: true,
  ignorePiTags: true,
  isArray: (name) => name === "destinatari" || name === "ricezione",
});

type Node = Record<string, unknown>;

function text(v: unknown): string | null {
  if (v === undefined || v === null) return null;
  if (typeof v === "string") return v;
  if (typeof v === "object" && "#text" in (v as Node)) return String((v as Node)["#text"]);
  if (typeof v === "object") return "";
  return String(v);
}

function req(v: unknown, what: string): string {
  const t = text(v);
  if (t === null) throw new PecParseError("daticert-invalid", `missing <${what}>`);
  return t.trim();
}

function opt(v: unknown): string | null {
  const t = text(v);
  return t === null ? null : t.trim();
}

function attr(v: unknown, name: string): string | null {
  if (v && typeof v === "object" && `@_${name}` in (v as Node)) return String((v as Node)[`@_${name}`]);
  return null;
}

function xmlEncoding(bytes: Buffer): BufferEncoding {
  const head = bytes.subarray(0, 200).toString("latin1");
  const m = /<\?xml[^>]*encoding\s*=\s*["']([^"']+)["']/i.exec(head);
  const enc = m?.[1]?.toLowerCase() ?? "utf-8";
  return enc === "iso-8859-1" || enc === "latin1" || enc === "us-ascii" || enc === "windows-1252"
    ? "latin1"
    : "utf8";
}

/** Parses daticert.xml; any deviation from the schema ends in PecParseError. */
export function parseDaticert(input: Buffer | string): Daticert {
  const bytes = typeof input === "string" ? Buffer.from(input, "utf8") : input;
  if (bytes.length > MAX_DATICERT_BYTES) {
    throw new PecParseError("daticert-invalid", `daticert.xml over ${MAX_DATICERT_BYTES} bytes`);
  }
  let xml = bytes.toString(xmlEncoding(bytes));
  if (xml.charCodeAt(0) === 0xfeff) xml = xml.slice(1);
  // The schema needs no DTD; an internal subset is how entity bombs and XXE arrive. Refuse any DOCTYPE
  // or ENTITY declaration before a parser sees it.
  if (/<!DOCTYPE|<!ENTITY/i.test(xml)) {
    throw new PecParseError("xml-forbidden", "daticert.xml declares a DTD or entities");
  }
  const valid = XMLValidator.validate(xml);
  if (valid !== true) {
    throw new PecParseError("xml-invalid", `daticert.xml is not well-formed: ${valid.err.msg}`);
  }
  let doc: Node;
  try {
    doc = parser.parse(xml) as Node;
  } catch (err) {
    throw new PecParseError("xml-invalid", `daticert.xml: ${(err as Error).message}`);
  }
  const root = doc["postacert"] as Node | undefined;
  if (!root || typeof root !== "object") throw new PecParseError("daticert-invalid", "no <postacert>");
  const tipo = attr(root, "tipo");
  const errore = attr(root, "errore") ?? "nessuno";
  if (!tipo || !(DATICERT_TIPI as readonly string[]).includes(tipo)) {
    throw new PecParseError("daticert-invalid", `unknown postacert tipo`);
  }
  if (!(DATICERT_ERRORI as readonly string[]).includes(errore)) {
    throw new PecParseError("daticert-invalid", `unknown postacert errore`);
  }
  const head = root["intestazione"] as Node | undefined;
  const dati = root["dati"] as Node | undefined;
  if (!head || typeof head !== "object") throw new PecParseError("daticert-invalid", "no <intestazione>");
  if (!dati || typeof dati !== "object") throw new PecParseError("daticert-invalid", "no <dati>");
  const dest = (head["destinatari"] as unknown[] | undefined) ?? [];
  if (dest.length > MAX_DATICERT_RECIPIENTS) {
    throw new PecParseError("daticert-invalid", `more than ${MAX_DATICERT_RECIPIENTS} recipients`);
  }
  const destinatari: Destinatario[] = dest.map((d) => {
    const t = attr(d, "tipo") ?? "certificato";
    if (t !== "certificato" && t !== "esterno") {
      throw new PecParseError("daticert-invalid", "destinatari tipo is neither certificato nor esterno");
    }
    return { tipo: t, indirizzo: req(d, "destinatari") };
  });
  const data = dati["data"] as Node | undefined;
  if (!data || typeof data !== "object") throw new PecParseError("daticert-invalid", "no <data>");
  const ricevutaNode = dati["ricevuta"];
  let ricevuta: RicevutaTipo | null = null;
  if (ricevutaNode !== undefined) {
    // The DTD's default for ricevuta/@tipo is completa.
    const t = attr(ricevutaNode, "tipo") ?? "completa";
    if (t !== "completa" && t !== "breve" && t !== "sintetica") {
      throw new PecParseError("daticert-invalid", "ricevuta tipo is not completa, breve or sintetica");
    }
    ricevuta = t;
  }
  const oggetto = text(head["oggetto"]);
  return {
    tipo: tipo as DaticertTipo,
    errore: errore as DaticertErrore,
    mittente: req(head["mittente"], "mittente"),
    destinatari,
    risposte: opt(head["risposte"]) ?? "",
    oggetto,
    gestoreEmittente: req(dati["gestore-emittente"], "gestore-emittente"),
    data: {
      giorno: req(data["giorno"], "giorno"),
      ora: req(data["ora"], "ora"),
      zona: attr(data, "zona") ?? "",
    },
    identificativo: req(dati["identificativo"], "identificativo"),
    msgid: opt(dati["msgid"]),
    ricevuta,
    consegna: opt(dati["consegna"]),
    ricezione: ((dati["ricezione"] as unknown[] | undefined) ?? []).map((r) => req(r, "ricezione")),
    erroreEsteso: opt(dati["errore-esteso"]),
  };
}
