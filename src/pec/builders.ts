// Builders for every message the rules define (RFC 6109 §3, pec-rules.md "Message types"): the two
// envelopes, the receipts and the notices. Pure: the clock, the randomness and the signing key come in
// through the context; the result is the exact bytes to store and send.
import { createHash } from "node:crypto";
import addressparser from "nodemailer/lib/addressparser";
import {
  daticertPart,
  headerLine,
  mixed,
  postacertPart,
  type Random,
  signedMessage,
  textAlternative,
} from "./compose.js";
import {
  buildDaticert,
  type Daticert,
  type DaticertErrore,
  type DaticertTipo,
  type Destinatario,
  type DestinatarioTipo,
  type RicevutaTipo,
} from "./daticert.js";
import { PecBuildError } from "./errors.js";
import { newIdentificativo, newMessageId } from "./identificativo.js";
import {
  canonicalCrlf,
  decodeBody,
  decodeHeaderText,
  filename,
  header,
  headers,
  type MimeEntity,
  parseMime,
} from "./mime-raw.js";
import { erroreEsteso, NON_DELIVERY_CAUSES, type NonDeliveryCause } from "./non-delivery.js";
import type { PecType } from "./reader.js";
import { rfc5322Date, romeDate } from "./rome-time.js";
import type { Signer } from "./smime.js";
import * as T from "./texts.js";

export interface PecProvider {
  /** gestore-emittente */
  name: string;
  /** signing domain: provider messages come from posta-certificata@<domain> */
  domain: string;
}

export interface BuildContext {
  provider: PecProvider;
  signer: Signer;
  now: () => Date;
  random: Random;
}

/** What the provider knows of one submitted message: enough to write every receipt about it. */
export interface Transaction {
  identificativo: string;
  /** Message-ID of the original, with angle brackets */
  originalMessageId: string;
  mittente: string;
  to: string[];
  cc: string[];
  destinatari: Destinatario[];
  /** Reply-To of the original, or the sender */
  risposte: string;
  oggetto: string;
  ricevuta: RicevutaTipo;
}

export interface BuiltPec {
  type: PecType;
  raw: Buffer;
  messageId: string;
  identificativo: string;
  daticert: Daticert | null;
  /** envelope recipients of this message */
  recipients: string[];
  /** sha-256 of `raw`, lower-case hex, when computed where the message was built (build-thread.ts) */
  sha256?: string;
}

export function systemAddress(provider: PecProvider): string {
  return `posta-certificata@${provider.domain}`;
}

function addresses(value: string | null): string[] {
  if (!value) return [];
  try {
    return addressparser(decodeHeaderText(value), { flatten: true })
      .map((a) => a.address.trim())
      .filter((a) => a.includes("@"));
  } catch {
    return [];
  }
}

function quoteDisplay(s: string): string {
  return `"${s.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

export interface OriginalOptions {
  /** certificato for PEC boxes, esterno otherwise (from the providers' index) */
  classify?: (address: string) => DestinatarioTipo;
  /** identificativo to use instead of a new one */
  identificativo?: string;
}

/**
 * Reads the submitted original and opens a transaction: a new identificativo, the recipients classified,
 * the delivery receipt kind from X-TipoRicevuta (default completa, RFC 6109 §3.1.6). Returns the original
 * rewritten for enclosure: Message-ID replaced by the identificativo and the old one kept in
 * X-Riferimento-Message-ID, as real providers do.
 */
export function openTransaction(
  ctx: BuildContext,
  original: Buffer,
  options: OriginalOptions = {},
): { transaction: Transaction; enclosed: Buffer } {
  const root = parseMime(original);
  const from = addresses(header(root, "from"));
  if (from.length !== 1)
    throw new PecBuildError("original-invalid", "the original needs exactly one From address");
  const to = headers(root, "to").flatMap(addresses);
  const cc = headers(root, "cc").flatMap(addresses);
  if (to.length === 0) throw new PecBuildError("original-invalid", "the original has no To address");
  const classify = options.classify ?? (() => "certificato" as const);
  const now = ctx.now();
  const identificativo = options.identificativo ?? newIdentificativo(ctx.provider.domain, now, ctx.random);
  const msgIdRaw = header(root, "message-id");
  const originalMessageId =
    /<[^<>\s]+>/.exec(msgIdRaw ?? "")?.[0] ?? newMessageId(ctx.provider.domain, now, ctx.random);
  const tipoRaw = header(root, "x-tiporicevuta")?.toLowerCase();
  const ricevuta: RicevutaTipo = tipoRaw === "breve" || tipoRaw === "sintetica" ? tipoRaw : "completa";
  const subject = header(root, "subject");
  const transaction: Transaction = {
    identificativo,
    originalMessageId,
    mittente: from[0]!,
    to,
    cc,
    destinatari: [...to, ...cc].map((a) => ({ tipo: classify(a), indirizzo: a })),
    risposte: addresses(header(root, "reply-to"))[0] ?? from[0]!,
    oggetto: subject === null ? "" : decodeHeaderText(subject),
    ricevuta,
  };
  return { transaction, enclosed: rewriteMessageId(original, `<${identificativo}>`, originalMessageId) };
}

/** Replaces Message-ID in the header block and adds X-Riferimento-Message-ID; the body is untouched. */
export function rewriteMessageId(original: Buffer, messageId: string, riferimento: string): Buffer {
  const buf = canonicalCrlf(original);
  let end = buf.indexOf("\r\n\r\n");
  const hasBody = end !== -1;
  if (!hasBody) end = buf.length;
  const head = buf.subarray(0, end).toString("latin1").split("\r\n");
  const kept: string[] = [];
  let dropping = false;
  for (const line of head) {
    if (line.startsWith(" ") || line.startsWith("\t")) {
      if (!dropping) kept.push(line);
      continue;
    }
    dropping = /^(message-id|x-riferimento-message-id)\s*:/i.test(line);
    if (!dropping) kept.push(line);
  }
  kept.push(`Message-ID: ${messageId}`, `X-Riferimento-Message-ID: ${riferimento}`);
  return Buffer.concat([
    Buffer.from(kept.join("\r\n"), "latin1"),
    hasBody ? buf.subarray(end) : Buffer.from("\r\n\r\n"),
  ]);
}

function facts(ctx: BuildContext, tx: Transaction, now: Date): T.TextFacts {
  return {
    data: romeDate(now),
    oggetto: tx.oggetto,
    mittente: tx.mittente,
    destinatari: tx.destinatari,
    identificativo: tx.identificativo,
    gestore: ctx.provider.name,
  };
}

function daticertOf(
  ctx: BuildContext,
  tx: Transaction,
  now: Date,
  tipo: DaticertTipo,
  extra: Partial<Daticert> = {},
): Daticert {
  return {
    tipo,
    errore: "nessuno",
    mittente: tx.mittente,
    destinatari: tx.destinatari,
    risposte: tx.risposte,
    oggetto: tx.oggetto,
    gestoreEmittente: ctx.provider.name,
    data: romeDate(now),
    identificativo: tx.identificativo,
    msgid: tx.originalMessageId,
    ricevuta: null,
    consegna: null,
    ricezione: [],
    erroreEsteso: null,
    ...extra,
  };
}

interface Assemble {
  type: PecType;
  subject: string;
  from: string;
  to: string[];
  cc?: string[];
  replyTo?: string;
  messageId: string;
  riferimento: string;
  extraHeaders?: [string, string][];
  text: T.Text;
  daticert: Daticert | null;
  enclosed: Buffer | null;
  identificativo: string;
}

async function assemble(ctx: BuildContext, now: Date, a: Assemble): Promise<BuiltPec> {
  const typeHeader: [string, string] =
    a.type === "posta-certificata" || a.type === "errore" ? ["X-Trasporto", a.type] : ["X-Ricevuta", a.type];
  let h = "";
  h += headerLine("Date", rfc5322Date(now));
  h += headerLine("Subject", a.subject, true);
  h += headerLine("From", a.from, true);
  if (a.replyTo) h += headerLine("Reply-To", a.replyTo);
  h += headerLine("To", a.to.join(", "));
  if (a.cc && a.cc.length > 0) h += headerLine("Cc", a.cc.join(", "));
  h += headerLine("Message-ID", a.messageId);
  h += headerLine("X-Riferimento-Message-ID", a.riferimento);
  h += headerLine(typeHeader[0], typeHeader[1]);
  for (const [n, v] of a.extraHeaders ?? []) h += headerLine(n, v);
  const parts = [textAlternative(a.text, ctx.random)];
  if (a.daticert) parts.push(daticertPart(buildDaticert(a.daticert)));
  if (a.enclosed) parts.push(postacertPart(a.enclosed));
  const raw = await signedMessage(h, mixed(parts, ctx.random), ctx.signer, now, ctx.random);
  return {
    type: a.type,
    raw,
    messageId: a.messageId,
    identificativo: a.identificativo,
    daticert: a.daticert,
    recipients: [...a.to, ...(a.cc ?? [])],
  };
}

function perContoDi(ctx: BuildContext, sender: string): string {
  return `${quoteDisplay(`Per conto di: ${sender}`)} <${systemAddress(ctx.provider)}>`;
}

/** Busta di trasporto (RFC 6109 §3.1.2): the original, enclosed and signed, to the recipients. */
export function buildBustaTrasporto(ctx: BuildContext, tx: Transaction, enclosed: Buffer): Promise<BuiltPec> {
  const now = ctx.now();
  return assemble(ctx, now, {
    type: "posta-certificata",
    subject: T.SUBJECT_PREFIX["posta-certificata"] + tx.oggetto,
    from: perContoDi(ctx, tx.mittente),
    replyTo: tx.risposte,
    to: tx.to,
    cc: tx.cc,
    messageId: `<${tx.identificativo}>`,
    riferimento: tx.originalMessageId,
    extraHeaders: [["X-TipoRicevuta", tx.ricevuta]],
    text: T.textBusta(facts(ctx, tx, now)),
    daticert: daticertOf(ctx, tx, now, "posta-certificata", { ricevuta: tx.ricevuta }),
    enclosed,
    identificativo: tx.identificativo,
  });
}

/**
 * Busta di anomalia (RFC 6109 §3.2.2): a message that is not valid PEC (ordinary mail, broken or unknown
 * signature), enclosed as received and signed by the recipient's provider. No daticert: there is no
 * certified transaction to describe.
 */
export function buildBustaAnomalia(
  ctx: BuildContext,
  received: Buffer,
  recipients: string[],
): Promise<BuiltPec> {
  const now = ctx.now();
  const root = parseMime(received);
  const sender = addresses(header(root, "from"))[0] ?? "mittente-sconosciuto@invalid";
  const subject = decodeHeaderText(header(root, "subject") ?? "");
  const origId =
    /<[^<>\s]+>/.exec(header(root, "message-id") ?? "")?.[0] ??
    newMessageId(ctx.provider.domain, now, ctx.random);
  const identificativo = newIdentificativo(ctx.provider.domain, now, ctx.random);
  const f: T.TextFacts = {
    data: romeDate(now),
    oggetto: subject,
    mittente: sender,
    destinatari: recipients.map((r) => ({ tipo: "certificato", indirizzo: r })),
    identificativo,
    gestore: ctx.provider.name,
  };
  return assemble(ctx, now, {
    type: "errore",
    subject: T.SUBJECT_PREFIX.errore + subject,
    from: perContoDi(ctx, sender),
    replyTo: sender,
    to: recipients,
    messageId: `<${identificativo}>`,
    riferimento: origId,
    text: T.textAnomalia(f),
    daticert: null,
    enclosed: received,
    identificativo,
  });
}

function receipt(
  ctx: BuildContext,
  tx: Transaction,
  now: Date,
  a: Omit<Assemble, "from" | "messageId" | "riferimento" | "identificativo" | "to"> & { to?: string[] },
): Promise<BuiltPec> {
  return assemble(ctx, now, {
    ...a,
    from: systemAddress(ctx.provider),
    to: a.to ?? [tx.mittente],
    messageId: newMessageId(ctx.provider.domain, now, ctx.random),
    riferimento: tx.originalMessageId,
    identificativo: tx.identificativo,
  });
}

/** Ricevuta di accettazione (RFC 6109 §3.1.1), to the sender. */
export function buildAccettazione(ctx: BuildContext, tx: Transaction): Promise<BuiltPec> {
  const now = ctx.now();
  return receipt(ctx, tx, now, {
    type: "accettazione",
    subject: T.SUBJECT_PREFIX.accettazione + tx.oggetto,
    text: T.textAccettazione(facts(ctx, tx, now)),
    daticert: daticertOf(ctx, tx, now, "accettazione"),
    enclosed: null,
  });
}

/**
 * Avviso di non accettazione (RFC 6109 §3.1.1): formal errors (errore "altro") or a virus (errore
 * "virus", its own subject and X-VerificaSicurezza). Nothing travels.
 */
export function buildNonAccettazione(
  ctx: BuildContext,
  tx: Transaction,
  reason: { kind: "formale" | "virus"; detail: string },
): Promise<BuiltPec> {
  const now = ctx.now();
  const virus = reason.kind === "virus";
  const esteso = virus
    ? erroreEsteso("virus", ctx.provider.name, reason.detail)
    : `5.7.0 - ${ctx.provider.name} - ${reason.detail}`;
  return receipt(ctx, tx, now, {
    type: "non-accettazione",
    subject:
      (virus ? T.SUBJECT_PREFIX["non-accettazione-virus"] : T.SUBJECT_PREFIX["non-accettazione"]) +
      tx.oggetto,
    extraHeaders: virus ? [["X-VerificaSicurezza", "errore"]] : [],
    text: T.textNonAccettazione(facts(ctx, tx, now), esteso, virus),
    daticert: daticertOf(ctx, tx, now, "non-accettazione", {
      errore: virus ? "virus" : "altro",
      erroreEsteso: esteso,
    }),
    enclosed: null,
  });
}

/**
 * Ricevuta di presa in carico (RFC 6109 §3.1.4): from the recipients' provider to the sender's provider
 * (its mailReceipt address in the index), one `ricezione` per recipient taken in charge.
 */
export function buildPresaInCarico(
  ctx: BuildContext,
  tx: Transaction,
  mailReceipt: string,
  taken: string[],
): Promise<BuiltPec> {
  const now = ctx.now();
  return receipt(ctx, tx, now, {
    type: "presa-in-carico",
    to: [mailReceipt],
    subject: T.SUBJECT_PREFIX["presa-in-carico"] + tx.oggetto,
    text: T.textPresaInCarico({
      ...facts(ctx, tx, now),
      destinatari: taken.map((t) => ({ tipo: "certificato", indirizzo: t })),
    }),
    daticert: daticertOf(ctx, tx, now, "presa-in-carico", { ricezione: taken }),
    enclosed: null,
  });
}

/**
 * Breve receipts carry the original with each attachment replaced by its hash (RFC 6109 §3.1.6): leaf
 * parts with a file name or `attachment` disposition become a short text part naming the file and its
 * SHA-256. Everything else keeps its bytes.
 */
export function replaceAttachmentsWithHashes(message: Buffer): Buffer {
  const buf = canonicalCrlf(message);
  const root = parseMime(buf);
  const leaves: MimeEntity[] = [];
  const visit = (e: MimeEntity) => {
    if (e.parts.length > 0) for (const p of e.parts) visit(p);
    else if (e !== root) {
      const disp = (header(e, "content-disposition") ?? "").toLowerCase();
      if (filename(e) !== null || disp.startsWith("attachment")) leaves.push(e);
    }
  };
  visit(root);
  let out = buf;
  for (const e of leaves.sort((a, b) => b.start - a.start)) {
    let content: Buffer;
    try {
      content = decodeBody(buf, e);
    } catch {
      content = buf.subarray(e.bodyStart, e.end);
    }
    const name = (filename(e) ?? "allegato").replace(/["\r\n\\]/g, "_");
    const hash = createHash("sha256").update(content).digest("hex");
    const part = Buffer.from(
      `Content-Type: text/plain; charset="utf-8"; name="${name}.hash"\r\n` +
        `Content-Disposition: attachment; filename="${name}.hash"\r\n` +
        `Content-Transfer-Encoding: 8bit\r\n\r\nSHA-256 (${name}) = ${hash}\r\n`,
      "utf8",
    );
    out = Buffer.concat([out.subarray(0, e.start), part, out.subarray(e.end)]);
  }
  return out;
}

/**
 * Ricevuta di avvenuta consegna (RFC 6109 §3.1.6), one per recipient, to the sender: completa encloses
 * the original, breve encloses it with attachments replaced by hashes, sintetica encloses nothing.
 */
export function buildAvvenutaConsegna(
  ctx: BuildContext,
  tx: Transaction,
  consegna: string,
  enclosed: Buffer,
  kind: RicevutaTipo = tx.ricevuta,
): Promise<BuiltPec> {
  const now = ctx.now();
  const inner =
    kind === "completa" ? enclosed : kind === "breve" ? replaceAttachmentsWithHashes(enclosed) : null;
  return receipt(ctx, tx, now, {
    type: "avvenuta-consegna",
    subject: T.SUBJECT_PREFIX["avvenuta-consegna"] + tx.oggetto,
    extraHeaders: [["X-TipoRicevuta", kind]],
    text: T.textAvvenutaConsegna(facts(ctx, tx, now), consegna, kind),
    daticert: daticertOf(ctx, tx, now, "avvenuta-consegna", { ricevuta: kind, consegna }),
    enclosed: inner,
  });
}

/** Avviso di mancata consegna (RFC 6109 §3.1.7, AgID note 12 for the causes), to the sender. */
export function buildMancataConsegna(
  ctx: BuildContext,
  tx: Transaction,
  consegna: string,
  cause: NonDeliveryCause,
  detail?: string,
): Promise<BuiltPec> {
  const now = ctx.now();
  const esteso = erroreEsteso(cause, ctx.provider.name, detail);
  const errore: DaticertErrore = NON_DELIVERY_CAUSES[cause].errore;
  const virus = cause === "virus";
  return receipt(ctx, tx, now, {
    type: "errore-consegna",
    subject:
      (virus ? T.SUBJECT_PREFIX["errore-consegna-virus"] : T.SUBJECT_PREFIX["errore-consegna"]) + tx.oggetto,
    extraHeaders: virus ? [["X-VerificaSicurezza", "errore"]] : [],
    text: T.textMancataConsegna(facts(ctx, tx, now), consegna, esteso),
    daticert: daticertOf(ctx, tx, now, "errore-consegna", { errore, consegna, erroreEsteso: esteso }),
    enclosed: null,
  });
}

/** Preavviso di mancata consegna (RFC 6109 §3.4): 12 h passed without a delivery receipt. */
export function buildPreavviso(ctx: BuildContext, tx: Transaction, consegna: string): Promise<BuiltPec> {
  const now = ctx.now();
  const esteso = erroreEsteso("timeout", ctx.provider.name, "12 ore");
  return receipt(ctx, tx, now, {
    type: "preavviso-errore-consegna",
    subject: T.SUBJECT_PREFIX["preavviso-errore-consegna"] + tx.oggetto,
    text: T.textPreavviso(facts(ctx, tx, now), [consegna]),
    daticert: daticertOf(ctx, tx, now, "preavviso-errore-consegna", {
      errore: "altro",
      consegna,
      erroreEsteso: esteso,
    }),
    enclosed: null,
  });
}

/**
 * Rilevazione virus (RFC 6109 §3.3.1): the recipients' provider found a virus in an envelope; the notice
 * goes to the sender's provider (its mailReceipt), the envelope is kept 30 months.
 */
export function buildRilevazioneVirus(
  ctx: BuildContext,
  tx: Transaction,
  mailReceipt: string,
  detail: string,
): Promise<BuiltPec> {
  const now = ctx.now();
  const esteso = erroreEsteso("virus", ctx.provider.name, detail);
  return receipt(ctx, tx, now, {
    type: "rilevazione-virus",
    to: [mailReceipt],
    subject: T.SUBJECT_PREFIX["rilevazione-virus"] + tx.oggetto,
    extraHeaders: [["X-VerificaSicurezza", "errore"]],
    text: T.textRilevazioneVirus(facts(ctx, tx, now), esteso),
    daticert: daticertOf(ctx, tx, now, "rilevazione-virus", { errore: "virus", erroreEsteso: esteso }),
    enclosed: null,
  });
}

/** Transaction as the recipients' provider sees it: from a received envelope's daticert. */
export function transactionFromDaticert(d: Daticert): Transaction {
  return {
    identificativo: d.identificativo,
    originalMessageId: d.msgid ?? `<${d.identificativo}>`,
    mittente: d.mittente,
    to: d.destinatari.map((x) => x.indirizzo),
    cc: [],
    destinatari: d.destinatari,
    risposte: d.risposte || d.mittente,
    oggetto: d.oggetto ?? "",
    ricevuta: d.ricevuta ?? "completa",
  };
}
