// A bounded walk over the raw bytes of a MIME message. mailparser decodes content but forgets where each
// part sits in the buffer; S/MIME verification needs exactly those bytes (RFC 5751 §3.5.3: the first part
// of multipart/signed is verified as it travelled). So we locate entities by byte offsets here and leave
// header decoding (RFC 2047 words, RFC 2231 parameters, charsets) to libmime.
import libmime from "libmime";
import { PecParseError } from "./errors.js";
import {
  MAX_HEADER_BLOCK_BYTES,
  MAX_HEADER_FIELDS,
  MAX_MESSAGE_BYTES,
  MAX_MIME_DEPTH,
  MAX_MIME_PARTS,
} from "./limits.js";

export interface HeaderField {
  /** lower-case name */
  name: string;
  /** value unfolded (CRLF + WSP removed), undecoded */
  value: string;
}

export interface MimeEntity {
  /** offset of the first header byte */
  start: number;
  /** offset of the first body byte (after the blank line) */
  bodyStart: number;
  /** offset after the last body byte */
  end: number;
  headers: HeaderField[];
  /** lower-case media type, `text/plain` when absent (RFC 2045 §5.2) */
  type: string;
  params: Record<string, string>;
  /** children of a multipart, in order; empty otherwise (message/rfc822 is not entered) */
  parts: MimeEntity[];
  depth: number;
  /** a multipart here or below lacks its closing delimiter (RFC 2046 §5.1.1) */
  truncated: boolean;
}

interface WalkState {
  parts: number;
}

export function header(entity: { headers: HeaderField[] }, name: string): string | null {
  const n = name.toLowerCase();
  for (const h of entity.headers) if (h.name === n) return h.value.trim();
  return null;
}

export function headers(entity: { headers: HeaderField[] }, name: string): string[] {
  const n = name.toLowerCase();
  return entity.headers.filter((h) => h.name === n).map((h) => h.value.trim());
}

/** Decodes RFC 2047 encoded words; never throws on garbage. */
export function decodeHeaderText(value: string): string {
  try {
    return libmime.decodeWords(value);
  } catch {
    return value;
  }
}

/** Offset of the blank line ending the header block, and where the body starts. */
function findHeaderEnd(buf: Buffer, start: number, end: number): { headerEnd: number; bodyStart: number } {
  // An entity with no header at all starts with its blank line (RFC 2046 §5.1.1).
  if (buf[start] === 0x0a) return { headerEnd: start, bodyStart: start + 1 };
  if (buf[start] === 0x0d && buf[start + 1] === 0x0a) return { headerEnd: start, bodyStart: start + 2 };
  let i = start;
  const limit = Math.min(end, start + MAX_HEADER_BLOCK_BYTES);
  while (i < limit) {
    const nl = buf.indexOf(0x0a, i);
    if (nl === -1 || nl >= end) return { headerEnd: end, bodyStart: end };
    const next = nl + 1;
    if (next - start > MAX_HEADER_BLOCK_BYTES) {
      throw new PecParseError("header-too-large", `header block over ${MAX_HEADER_BLOCK_BYTES} bytes`);
    }
    if (next >= end) return { headerEnd: end, bodyStart: end };
    if (buf[next] === 0x0a) return { headerEnd: next, bodyStart: next + 1 };
    if (buf[next] === 0x0d && buf[next + 1] === 0x0a) return { headerEnd: next, bodyStart: next + 2 };
    i = next;
  }
  if (limit < end)
    throw new PecParseError("header-too-large", `header block over ${MAX_HEADER_BLOCK_BYTES} bytes`);
  return { headerEnd: end, bodyStart: end };
}

export function parseHeaderBlock(text: string): HeaderField[] {
  const out: HeaderField[] = [];
  const lines = text.split(/\r?\n/);
  for (const line of lines) {
    if (line.length === 0) continue;
    if ((line[0] === " " || line[0] === "\t") && out.length > 0) {
      // RFC 5322 §2.2.3: unfolding removes the CRLF, keeps the white space.
      out[out.length - 1]!.value += line;
      continue;
    }
    const colon = line.indexOf(":");
    if (colon <= 0) continue; // not a field (mbox "From " line, garbage): skipped, as mail readers do
    if (out.length >= MAX_HEADER_FIELDS) {
      throw new PecParseError("header-too-large", `more than ${MAX_HEADER_FIELDS} header fields`);
    }
    out.push({ name: line.slice(0, colon).trim().toLowerCase(), value: line.slice(colon + 1) });
  }
  return out;
}

function contentType(fields: HeaderField[]): { type: string; params: Record<string, string> } {
  const raw = header({ headers: fields }, "content-type");
  if (!raw) return { type: "text/plain", params: {} };
  try {
    const parsed = libmime.parseHeaderValue(raw);
    const params: Record<string, string> = {};
    for (const [k, v] of Object.entries(parsed.params ?? {})) params[k.toLowerCase()] = String(v);
    return {
      type:
        String(parsed.value ?? "")
          .trim()
          .toLowerCase() || "text/plain",
      params,
    };
  } catch {
    return { type: "text/plain", params: {} };
  }
}

function isLineStart(buf: Buffer, pos: number, min: number): boolean {
  return pos === min || buf[pos - 1] === 0x0a;
}

/** Index after the end of the line containing pos (past LF), or end. */
function lineEnd(buf: Buffer, pos: number, end: number): number {
  const nl = buf.indexOf(0x0a, pos);
  return nl === -1 || nl >= end ? end : nl + 1;
}

/** Start of the line break that precedes pos (CRLF or LF), which belongs to the delimiter (RFC 2046 §5.1.1). */
function beforeLineBreak(buf: Buffer, pos: number, min: number): number {
  if (pos > min && buf[pos - 1] === 0x0a) {
    if (pos - 1 > min && buf[pos - 2] === 0x0d) return pos - 2;
    return pos - 1;
  }
  return pos;
}

function splitMultipart(
  buf: Buffer,
  bodyStart: number,
  end: number,
  boundary: string,
  truncated: { value: boolean },
): { start: number; end: number }[] {
  const delim = Buffer.from(`--${boundary}`, "latin1");
  const ranges: { start: number; end: number }[] = [];
  let pos = bodyStart;
  let partStart = -1;
  for (;;) {
    const at = buf.indexOf(delim, pos);
    if (at === -1 || at + delim.length > end) break;
    pos = at + delim.length;
    if (!isLineStart(buf, at, bodyStart)) continue;
    const after = at + delim.length;
    const closing = buf[after] === 0x2d && buf[after + 1] === 0x2d;
    // After the boundary only transport padding may follow on the line; anything else means the
    // boundary string was merely a prefix of a longer line.
    let k = closing ? after + 2 : after;
    while (k < end && (buf[k] === 0x20 || buf[k] === 0x09)) k++;
    if (!closing && k < end && buf[k] !== 0x0d && buf[k] !== 0x0a) continue;
    if (partStart >= 0) ranges.push({ start: partStart, end: beforeLineBreak(buf, at, partStart) });
    if (closing) return ranges;
    partStart = lineEnd(buf, at, end);
    if (ranges.length + 1 > MAX_MIME_PARTS) {
      throw new PecParseError("mime-too-many-parts", `more than ${MAX_MIME_PARTS} parts`);
    }
  }
  // No closing delimiter: the message was cut. Readers keep what arrived (the last part runs to the end)
  // and the entity is marked truncated, so a signature over it can never pass as intact.
  if (partStart >= 0) ranges.push({ start: partStart, end });
  truncated.value = true;
  return ranges;
}

function walk(buf: Buffer, start: number, end: number, depth: number, state: WalkState): MimeEntity {
  if (++state.parts > MAX_MIME_PARTS) {
    throw new PecParseError("mime-too-many-parts", `more than ${MAX_MIME_PARTS} parts`);
  }
  const { headerEnd, bodyStart } = findHeaderEnd(buf, start, end);
  const fields = parseHeaderBlock(buf.toString("utf8", start, headerEnd));
  const { type, params } = contentType(fields);
  const entity: MimeEntity = {
    start,
    bodyStart,
    end,
    headers: fields,
    type,
    params,
    parts: [],
    depth,
    truncated: false,
  };
  if (type.startsWith("multipart/")) {
    const boundary = params["boundary"];
    // A multipart without a boundary cannot be split (RFC 2046 §5.1.1): it is kept as one opaque leaf,
    // as mail readers do, so a corrupted header degrades the reading instead of failing it.
    if (!boundary) return entity;
    if (depth + 1 > MAX_MIME_DEPTH) {
      throw new PecParseError("mime-too-deep", `multipart nested more than ${MAX_MIME_DEPTH} levels`);
    }
    const cut = { value: false };
    for (const r of splitMultipart(buf, bodyStart, end, boundary, cut)) {
      entity.parts.push(walk(buf, r.start, r.end, depth + 1, state));
    }
    entity.truncated = cut.value || entity.parts.some((p) => p.truncated);
  }
  return entity;
}

/** Parses the structure of a message (or of an enclosed message/rfc822 body). */
export function parseMime(buf: Buffer, start = 0, end = buf.length): MimeEntity {
  if (end - start > MAX_MESSAGE_BYTES) {
    throw new PecParseError("message-too-large", `message over ${MAX_MESSAGE_BYTES} bytes`);
  }
  return walk(buf, start, end, 0, { parts: 0 });
}

/** Depth-first search, the root included. */
export function findEntity(root: MimeEntity, pred: (e: MimeEntity) => boolean): MimeEntity | null {
  const stack = [root];
  while (stack.length > 0) {
    const e = stack.pop()!;
    if (pred(e)) return e;
    for (let i = e.parts.length - 1; i >= 0; i--) stack.push(e.parts[i]!);
  }
  return null;
}

export function filename(entity: MimeEntity): string | null {
  if (entity.params["name"]) return decodeHeaderText(entity.params["name"]);
  const cd = header(entity, "content-disposition");
  if (!cd) return null;
  try {
    const v = libmime.parseHeaderValue(cd);
    const f = v.params?.["filename"];
    return f ? decodeHeaderText(String(f)) : null;
  } catch {
    return null;
  }
}

const B64_CLEAN = /^[A-Za-z0-9+/]*={0,2}$/;

/** Body bytes after Content-Transfer-Encoding; base64 is checked, not silently repaired. */
export function decodeBody(buf: Buffer, entity: MimeEntity): Buffer {
  const body = buf.subarray(entity.bodyStart, entity.end);
  const cte = (header(entity, "content-transfer-encoding") ?? "7bit").toLowerCase();
  if (cte === "base64") {
    const text = body.toString("latin1").replace(/[\r\n\t ]+/g, "");
    if (!B64_CLEAN.test(text) || text.length % 4 === 1) {
      throw new PecParseError("bad-base64", "body is not valid base64");
    }
    return Buffer.from(text, "base64");
  }
  if (cte === "quoted-printable") return decodeQuotedPrintable(body);
  return body;
}

/** RFC 2045 §6.7; malformed escapes are kept as they are (rule 1 leniency). */
export function decodeQuotedPrintable(body: Buffer): Buffer {
  const s = body.toString("latin1").replace(/=\r?\n/g, "");
  const out = Buffer.alloc(s.length);
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x3d && i + 2 < s.length + 0 && /^[0-9A-Fa-f]{2}$/.test(s.slice(i + 1, i + 3))) {
      out[n++] = Number.parseInt(s.slice(i + 1, i + 3), 16);
      i += 2;
    } else {
      out[n++] = c;
    }
  }
  return out.subarray(0, n);
}

/** RFC 5751 §3.1.1: signed content is canonical, CRLF line ends; bare LF in a stored file is restored. */
export function canonicalCrlf(buf: Buffer): Buffer {
  let bare = 0;
  for (let i = buf.indexOf(0x0a); i !== -1; i = buf.indexOf(0x0a, i + 1)) if (buf[i - 1] !== 0x0d) bare++;
  if (bare === 0) return buf;
  const out = Buffer.allocUnsafe(buf.length + bare);
  let o = 0;
  for (let i = 0; i < buf.length; i++) {
    const c = buf[i]!;
    if (c === 0x0a && (i === 0 || buf[i - 1] !== 0x0d)) out[o++] = 0x0d;
    out[o++] = c;
  }
  return out;
}
