// Reads any PEC message a provider sends: finds the signed part wherever it sits (a list server may wrap
// it, pec-rules.md "MIME layout"), types the message by X-Trasporto / X-Ricevuta and daticert (never by
// subject, RFC 6109 §3), verifies the signature on the raw bytes, and extracts daticert, the enclosed
// original and the keys that correlate receipts with sent messages.
import { type Daticert, type DaticertJson, daticertToJson, parseDaticert } from "./daticert.js";
import { PecParseError } from "./errors.js";
import {
  canonicalCrlf,
  decodeBody,
  decodeHeaderText,
  filename,
  findEntity,
  header,
  type MimeEntity,
  parseMime,
} from "./mime-raw.js";
import { emptyReport, type SignatureReport, type TrustStore, verifyDetached } from "./smime.js";

/** X-Trasporto values (RFC 6109 §3.1.2, §3.2.2) */
export const TRASPORTO_TYPES = ["posta-certificata", "errore"] as const;
/** X-Ricevuta values (RFC 6109 §3.1.1, §3.2.1, §3.3, §3.4) */
export const RICEVUTA_TYPES = [
  "accettazione",
  "non-accettazione",
  "presa-in-carico",
  "avvenuta-consegna",
  "errore-consegna",
  "preavviso-errore-consegna",
  "rilevazione-virus",
] as const;

export type PecType = (typeof TRASPORTO_TYPES)[number] | (typeof RICEVUTA_TYPES)[number];

export { canonicalCrlf };

export interface PecReading {
  /** value of X-Ricevuta or X-Trasporto, null for anything that is not PEC */
  pec: PecType | null;
  /** inconsistencies worth a look: header and daticert disagree, structure truncated */
  warnings: string[];
  signature: SignatureReport;
  daticert: Daticert | null;
  /** why daticert is null although the message is PEC */
  daticertError: PecParseError | null;
  /** bytes of postacert.eml (the enclosed original), as enclosed */
  original: Buffer | null;
  /** the signed entity's first part, as it sits in the message */
  signedContent: Buffer | null;
  subject: string | null;
  messageId: string | null;
  /** X-Riferimento-Message-ID: the original's Message-ID */
  riferimentoMessageId: string | null;
  correlation: {
    /** the original Message-ID, with angle brackets */
    originalMessageId: string | null;
    /** the provider's identificativo of the transaction */
    identificativo: string | null;
  };
}

export interface ReadOptions {
  /** anchors for `signature.trusted`; without it trusted is null */
  trust?: TrustStore | null;
}

function typeOf(entity: MimeEntity): PecType | null {
  const r = header(entity, "x-ricevuta")?.toLowerCase();
  if (r && (RICEVUTA_TYPES as readonly string[]).includes(r)) return r as PecType;
  const t = header(entity, "x-trasporto")?.toLowerCase();
  if (t && (TRASPORTO_TYPES as readonly string[]).includes(t)) return t as PecType;
  return null;
}

function isSigned(e: MimeEntity): boolean {
  return e.type === "multipart/signed" && e.parts.length >= 1;
}

/** The chain of entities from the root to the first multipart/signed, depth first. */
function pathToSigned(root: MimeEntity): MimeEntity[] | null {
  const path: MimeEntity[] = [];
  const visit = (e: MimeEntity): boolean => {
    path.push(e);
    if (isSigned(e)) return true;
    for (const p of e.parts) if (visit(p)) return true;
    path.pop();
    return false;
  };
  return visit(root) ? path : null;
}

function normaliseMsgId(v: string | null): string | null {
  if (!v) return null;
  const m = /<[^<>\s]+>/.exec(v);
  return m ? m[0] : v.trim() || null;
}

export function readPec(raw: Buffer, options: ReadOptions = {}): PecReading {
  const root = parseMime(raw);
  const path = pathToSigned(root);
  const signedEntity = path ? path[path.length - 1]! : null;

  // The type comes from the top-level header; when a list wrapped the message, the header stays on the
  // wrapper or on the entity that carries the signed part, so look along the path too.
  let pec = typeOf(root);
  if (!pec && path) for (const e of path) pec = pec ?? typeOf(e);

  let signature: SignatureReport = emptyReport(false, "no multipart/signed part");
  let signedContent: Buffer | null = null;
  if (signedEntity) {
    const content = signedEntity.parts[0]!;
    const sigPart = signedEntity.parts[1];
    signedContent = raw.subarray(content.start, content.end);
    try {
      if (!sigPart) throw new PecParseError("mime-truncated", "multipart/signed without its signature part");
      const p7s = decodeBody(raw, sigPart);
      const canonical = canonicalCrlf(signedContent);
      const candidates = canonical === signedContent ? [signedContent] : [canonical, signedContent];
      signature = verifyDetached(candidates, p7s, options.trust ?? null);
    } catch (err) {
      if (!(err instanceof PecParseError)) throw err;
      signature = emptyReport(true, err.message);
    }
  }

  // daticert and postacert sit inside the signed content; without a signed part, look anywhere.
  const scope = signedEntity ? signedEntity.parts[0]! : root;
  const isDaticert = (e: MimeEntity) => e.parts.length === 0 && filename(e)?.toLowerCase() === "daticert.xml";

  let daticert: Daticert | null = null;
  let daticertError: PecParseError | null = null;
  const dEntity = findEntity(scope, isDaticert);
  if (dEntity) {
    try {
      daticert = parseDaticert(decodeBody(raw, dEntity));
    } catch (err) {
      if (!(err instanceof PecParseError)) throw err;
      daticertError = err;
    }
  } else if (pec) {
    daticertError = new PecParseError("daticert-invalid", "no daticert.xml in the message");
  }

  // The original is postacert.eml (RFC 6109 §3.1.2); a provider that names it otherwise still encloses
  // it as the one message/rfc822 part.
  const pEntity =
    findEntity(scope, (e) => e.type === "message/rfc822" && filename(e)?.toLowerCase() === "postacert.eml") ??
    findEntity(scope, (e) => e !== scope && e.type === "message/rfc822");
  let original: Buffer | null = null;
  let originalError: string | null = null;
  if (pEntity) {
    try {
      original = decodeBody(raw, pEntity);
    } catch (err) {
      if (!(err instanceof PecParseError)) throw err;
      originalError = `postacert.eml unreadable: ${err.message}`;
    }
  }

  // The headers that describe the message are those of the signed entity's parent when it was wrapped.
  const described = path && path.length >= 2 ? path[path.length - 2]! : root;
  const top = typeOf(described) ? described : root;
  const subjectRaw = header(top, "subject");
  const messageId = normaliseMsgId(header(top, "message-id"));
  const riferimento = normaliseMsgId(header(top, "x-riferimento-message-id"));
  // The header types the message; daticert confirms it. When a relay dropped the header but the signed
  // part carries daticert, daticert's tipo is the type (its tipo values are X-Ricevuta/X-Trasporto values).
  const warnings: string[] = [];
  if (!pec && daticert && signedEntity) {
    pec = daticert.tipo;
    warnings.push("no X-Ricevuta/X-Trasporto header: typed by daticert");
  } else if (pec && daticert && pec !== daticert.tipo) {
    warnings.push(`header says ${pec}, daticert says ${daticert.tipo}`);
  }
  if (signedEntity?.truncated) warnings.push("the signed part is truncated");
  if (originalError) warnings.push(originalError);
  const isBusta = pec === "posta-certificata" || pec === "errore";
  return {
    pec,
    warnings,
    signature,
    daticert,
    daticertError,
    original,
    signedContent,
    subject: subjectRaw === null ? null : decodeHeaderText(subjectRaw),
    messageId,
    riferimentoMessageId: riferimento,
    correlation: {
      originalMessageId: daticert?.msgid ?? riferimento,
      identificativo:
        daticert?.identificativo ?? (isBusta ? (messageId?.replace(/^<|>$/g, "") ?? null) : null),
    },
  };
}

/** `domicilio pec inspect --json` (docs/contract.md "PEC inspection"). */
export interface InspectJson {
  pec: PecType | null;
  signature: { present: boolean; intact: boolean; signer: string | null; trusted: boolean | null };
  daticert: DaticertJson | null;
}

export function inspectJson(r: PecReading): InspectJson {
  return {
    pec: r.pec,
    signature: {
      present: r.signature.present,
      intact: r.signature.intact,
      signer: r.signature.signer,
      trusted: r.signature.trusted,
    },
    daticert: r.daticert ? daticertToJson(r.daticert) : null,
  };
}
