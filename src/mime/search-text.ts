// Text a search looks at (RFC 9051 §6.4.4): header values with encoded words decoded, and the text of a
// message's parts with transfer encoding and charset undone, so "caffè" matches however it was sent.
import libmime from "libmime";
import { headerValue, type MimePart } from "./mime-tree.js";
import { decodeBody } from "./sections.js";

export function decodeHeaderText(value: Buffer): string {
  const raw = value.toString("utf8");
  try {
    return libmime.decodeWords(raw);
  } catch {
    return raw;
  }
}

export function headerMatches(root: MimePart, field: string, needle: string): boolean {
  const n = fold(needle);
  for (const h of root.headers) {
    if (h.key !== field) continue;
    if (n === "") return true;
    if (fold(decodeHeaderText(h.value)).includes(n)) return true;
  }
  return false;
}

function charsetOf(part: MimePart): string {
  return part.contentType.params.find(([k]) => k.toLowerCase() === "charset")?.[1] ?? "utf-8";
}

function decodeText(bytes: Buffer, charset: string): string {
  try {
    return new TextDecoder(charset.toLowerCase()).decode(bytes);
  } catch {
    return bytes.toString("latin1");
  }
}

/** The decoded text of every text part (and of encapsulated messages' headers and text parts). */
export function bodyText(buf: Buffer, root: MimePart): string {
  const out: string[] = [];
  const walk = (p: MimePart, depth: number) => {
    if (depth > 20) return;
    const type = p.contentType.type.toLowerCase();
    if (type === "multipart") {
      for (const c of p.children) walk(c, depth + 1);
    } else if (p.message) {
      out.push(p.message.headers.map((h) => `${h.name}: ${decodeHeaderText(h.value)}`).join("\n"));
      walk(p.message, depth + 1);
    } else if (type === "text") {
      const raw = decodeBody(buf, p);
      const bytes = Buffer.isBuffer(raw) ? raw : buf.subarray(p.bodyStart, p.end);
      out.push(decodeText(bytes, charsetOf(p)));
    }
  };
  walk(root, 0);
  return out.join("\n");
}

export function textMatches(haystack: string, needle: string): boolean {
  return fold(haystack).includes(fold(needle));
}

export function fold(s: string): string {
  return s.normalize("NFC").toLowerCase();
}

export { headerValue };
