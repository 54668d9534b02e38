// Extracts, once at append time, the header fields a message list and a search need, so that neither has
// to read the message bytes again. Works on the raw header block (RFC 5322 §2.2): unfolds, decodes
// encoded words (RFC 2047) and never throws on malformed input.
import libmime from "libmime";
import { chunksOf, leadingBytes, type MessageBytes } from "../store/message-bytes.js";
import type { HeaderSummary } from "../store/types.js";

/** Headers beyond this are not summarised (the bytes are still stored whole). */
const MAX_HEADER_BYTES = 256 * 1024;

/** Index just past the blank line that ends the header block, or the buffer length if there is none. */
export function headerEnd(bytes: Uint8Array): number {
  const limit = Math.min(bytes.length, MAX_HEADER_BYTES);
  for (let i = 0; i < limit; i++) {
    if (bytes[i] !== 10) continue;
    if (bytes[i + 1] === 10) return i + 2;
    if (bytes[i + 1] === 13 && bytes[i + 2] === 10) return i + 3;
  }
  return limit;
}

/** Parses the header block into lower-cased names → raw (unfolded, undecoded) values, in order. */
export function parseHeaderBlock(bytes: Uint8Array): Map<string, string[]> {
  const text = Buffer.from(bytes.subarray(0, headerEnd(bytes))).toString("latin1");
  const fields = new Map<string, string[]>();
  const unfolded = text.replace(/\r?\n(?=[ \t])/g, "");
  for (const line of unfolded.split(/\r?\n/)) {
    const colon = line.indexOf(":");
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    if (!/^[\x21-\x39\x3b-\x7e]+$/.test(name)) continue;
    const list = fields.get(name) ?? [];
    list.push(line.slice(colon + 1).trim());
    fields.set(name, list);
  }
  return fields;
}

/** Raw header bytes are usually ASCII; 8-bit ones are most often UTF-8 (RFC 6532), else Latin-1. */
function toUnicode(latin1: string): string {
  const bytes = Buffer.from(latin1, "latin1");
  const utf8 = bytes.toString("utf8");
  return utf8.includes("\uFFFD") ? latin1 : utf8;
}

function decode(value: string | undefined): string | null {
  if (value === undefined) return null;
  try {
    return libmime.decodeWords(toUnicode(value));
  } catch {
    return toUnicode(value);
  }
}

function parseDate(value: string | undefined): Date | null {
  if (!value) return null;
  const t = Date.parse(value.replace(/\s*\([^)]*\)\s*$/, ""));
  return Number.isNaN(t) ? null : new Date(t);
}

export function summarizeHeaders(bytes: MessageBytes): HeaderSummary {
  // A message in chunks: its first chunk when the header block ends there (nearly always), else just
  // enough leading chunks for the longest block summarised.
  const lead = chunksOf(bytes)[0];
  const block = lead && headerEnd(lead) < lead.byteLength ? lead : leadingBytes(bytes, MAX_HEADER_BYTES + 2);
  const h = parseHeaderBlock(block);
  const first = (name: string) => h.get(name)?.[0];
  return {
    subject: decode(first("subject")),
    from: decode(first("from")),
    to: decode(h.get("to")?.join(", ")),
    cc: decode(h.get("cc")?.join(", ")),
    date: parseDate(first("date")),
    messageId: first("message-id") ?? null,
    inReplyTo: first("in-reply-to") ?? null,
    // pec-rules.md: the type is read from these headers, never from the subject.
    pecType: first("x-ricevuta") ?? first("x-trasporto") ?? null,
    pecRef: first("x-riferimento-message-id") ?? null,
  };
}
