// BODY[section] and BINARY[section] content (RFC 9051 §6.4.5, RFC 3516) cut from the raw message bytes.
import { findPart, headerValue, type MimePart } from "./mime-tree.js";

export type SectionText = "" | "HEADER" | "HEADER.FIELDS" | "HEADER.FIELDS.NOT" | "TEXT" | "MIME";

export interface SectionSpec {
  path: number[];
  text: SectionText;
  fields?: string[];
}

/** The octets of a section, or null when the part does not exist (the answer is then an empty string). */
export function sectionBytes(buf: Buffer, root: MimePart, spec: SectionSpec): Buffer | null {
  if (spec.path.length === 0) {
    if (spec.text === "") return buf;
    return headerOrText(buf, root, spec);
  }
  const part = findPart(root, spec.path);
  if (!part) return null;
  switch (spec.text) {
    case "":
      return buf.subarray(part.bodyStart, part.end);
    case "MIME":
      return buf.subarray(part.start, part.bodyStart);
    default:
      // HEADER, TEXT and HEADER.FIELDS on a part need an encapsulated message (RFC 9051 §6.4.5).
      if (!part.message) return null;
      return headerOrText(buf, part.message, spec);
  }
}

function headerOrText(buf: Buffer, msg: MimePart, spec: SectionSpec): Buffer {
  if (spec.text === "TEXT") return buf.subarray(msg.bodyStart, msg.end);
  if (spec.text === "HEADER") return buf.subarray(msg.start, msg.bodyStart);
  const wanted = new Set((spec.fields ?? []).map((f) => f.toLowerCase()));
  const not = spec.text === "HEADER.FIELDS.NOT";
  const picked = msg.headers.filter((h) => wanted.has(h.key) !== not).map((h) => withCrlf(h.raw));
  // HEADER.FIELDS always ends with the blank line; .NOT keeps the header's own end (Dovecot).
  if (!not || msg.bodyStart > msg.headerEnd || msg.headers.length === 0) picked.push(CRLF);
  return Buffer.concat(picked);
}

function withCrlf(raw: Buffer): Buffer {
  if (raw.length > 0 && raw[raw.length - 1] === 0x0a) return raw;
  return Buffer.concat([raw, CRLF]);
}

const CRLF = Buffer.from("\r\n");

/**
 * BINARY[path]: the part's content with its transfer encoding removed (RFC 3516 §4.2). Returns null when
 * the part does not exist and "unknown" for an encoding we cannot undo ([UNKNOWN-CTE]).
 */
export function binaryBytes(buf: Buffer, root: MimePart, path: number[]): Buffer | null | "unknown" {
  if (path.length === 0) return buf;
  const part = findPart(root, path);
  if (!part) return null;
  return decodeBody(buf, part);
}

/** A part's body with its Content-Transfer-Encoding undone; "unknown" for an encoding we do not know. */
export function decodeBody(buf: Buffer, part: MimePart): Buffer | "unknown" {
  const body = buf.subarray(part.bodyStart, part.end);
  if (part.contentType.type.toLowerCase() === "multipart" || part.message) return body;
  const cte = (headerValue(part.headers, "content-transfer-encoding")?.toString("latin1") ?? "7bit")
    .trim()
    .toLowerCase();
  if (cte === "7bit" || cte === "8bit" || cte === "binary" || cte === "") return body;
  if (cte === "base64") return Buffer.from(body.toString("latin1").replace(/[^A-Za-z0-9+/]/g, ""), "base64");
  if (cte === "quoted-printable") return decodeQuotedPrintable(body);
  return "unknown";
}

export function decodeQuotedPrintable(b: Buffer): Buffer {
  const out = Buffer.alloc(b.length);
  let n = 0;
  for (let i = 0; i < b.length; i++) {
    const c = b[i]!;
    if (c !== 0x3d) {
      out[n++] = c;
      continue;
    }
    // Soft line break "=\r\n" or "=\n" (RFC 2045 §6.7 rule 5).
    if (b[i + 1] === 0x0a) {
      i += 1;
      continue;
    }
    if (b[i + 1] === 0x0d && b[i + 2] === 0x0a) {
      i += 2;
      continue;
    }
    const hex = b.toString("latin1", i + 1, i + 3);
    if (/^[0-9A-Fa-f]{2}$/.test(hex)) {
      out[n++] = Number.parseInt(hex, 16);
      i += 2;
    } else out[n++] = c;
  }
  return out.subarray(0, n);
}
