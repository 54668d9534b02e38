// A MIME tree over the raw bytes of a message (RFC 2045/2046/5322), keeping byte offsets so that IMAP
// BODYSTRUCTURE sizes, BODY[section] and partial fetches are exact. Nothing is decoded or rewritten here.

export interface HeaderField {
  /** Field name as written. */
  name: string;
  /** Lower-case name for lookups. */
  key: string;
  /** The whole field, name to final line break included, exactly as in the message. */
  raw: Buffer;
  /** The value unfolded (CRLF before WSP removed), without the trailing line break, latin1-safe bytes. */
  value: Buffer;
}

export interface ContentType {
  type: string;
  subtype: string;
  /** Parameters in order, names and values as written (quotes removed). */
  params: [string, string][];
}

export interface MimePart {
  /** Offsets into the message buffer: the part's header starts at `start`, its body at `bodyStart`. */
  start: number;
  headerEnd: number;
  bodyStart: number;
  end: number;
  headers: HeaderField[];
  contentType: ContentType;
  /** Whether a Content-Type field was present (affects the default for multipart/digest children). */
  children: MimePart[];
  /** message/rfc822 (and message/global): the encapsulated message. */
  message: MimePart | null;
  /** Multipart only: where its close delimiter line ends ("--b--" and padding), or -1 if unterminated. */
  closeEnd: number;
}

const MAX_DEPTH = 50;

/** Finds the end of the header: the offset of the empty line and the offset where the body starts. */
export function splitHeader(
  buf: Buffer,
  start: number,
  end: number,
): { headerEnd: number; bodyStart: number } {
  // An empty header: the part starts with a blank line.
  if (buf[start] === 0x0a) return { headerEnd: start, bodyStart: start + 1 };
  if (buf[start] === 0x0d && buf[start + 1] === 0x0a) return { headerEnd: start, bodyStart: start + 2 };
  let i = start;
  while (i < end) {
    const lf = buf.indexOf(0x0a, i);
    if (lf < 0 || lf >= end) break;
    const next = lf + 1;
    if (buf[next] === 0x0a && next < end) return { headerEnd: next, bodyStart: next + 1 };
    if (buf[next] === 0x0d && buf[next + 1] === 0x0a && next + 1 < end)
      return { headerEnd: next, bodyStart: next + 2 };
    i = next;
  }
  return { headerEnd: end, bodyStart: end };
}

export function parseHeaderFields(buf: Buffer, start: number, end: number): HeaderField[] {
  const fields: HeaderField[] = [];
  let i = start;
  let cur: { s: number; e: number } | null = null;
  const finish = () => {
    if (!cur) return;
    const raw = buf.subarray(cur.s, cur.e);
    const colon = raw.indexOf(0x3a);
    if (colon > 0) {
      const name = raw.toString("latin1", 0, colon).trim();
      let value = raw.subarray(colon + 1);
      // Unfold: remove CRLF/LF that precede WSP; drop the final line break.
      const text = value
        .toString("latin1")
        .replace(/\r?\n(?=[ \t])/g, "")
        .replace(/\r?\n$/, "");
      value = Buffer.from(text.replace(/^[ \t]+/, ""), "latin1");
      fields.push({ name, key: name.toLowerCase(), raw, value });
    }
    cur = null;
  };
  while (i < end) {
    let lf = buf.indexOf(0x0a, i);
    if (lf < 0 || lf >= end) lf = end - 1;
    const c = buf[i];
    if ((c === 0x20 || c === 0x09) && cur) cur.e = lf + 1;
    else {
      finish();
      cur = { s: i, e: lf + 1 };
    }
    i = lf + 1;
  }
  finish();
  return fields;
}

export function headerValue(headers: HeaderField[], key: string): Buffer | null {
  const f = headers.find((h) => h.key === key);
  return f ? f.value : null;
}

/** Content-Type (RFC 2045 §5.1) with RFC 822 comments skipped; falls back to the default on nonsense. */
export function parseContentType(value: Buffer | null, fallback: ContentType): ContentType {
  if (!value) return fallback;
  const s = stripComments(value.toString("latin1"));
  const m = /^\s*([^\s/;]+)\s*\/\s*([^\s;]+)\s*(.*)$/s.exec(s);
  if (!m) return fallback;
  return { type: m[1]!, subtype: m[2]!, params: parseParams(m[3] ?? "") };
}

/** `; name=value; name="quoted value"` */
export function parseParams(s: string): [string, string][] {
  const out: [string, string][] = [];
  let i = 0;
  while (i < s.length) {
    while (i < s.length && /[\s;]/.test(s[i]!)) i++;
    const eq = s.indexOf("=", i);
    if (eq < 0) break;
    const name = s.slice(i, eq).trim();
    i = eq + 1;
    while (i < s.length && /\s/.test(s[i]!)) i++;
    let value = "";
    if (s[i] === '"') {
      i++;
      while (i < s.length && s[i] !== '"') {
        if (s[i] === "\\" && i + 1 < s.length) i++;
        value += s[i];
        i++;
      }
      i++;
      while (i < s.length && s[i] !== ";") i++;
    } else {
      const semi = s.indexOf(";", i);
      value = s.slice(i, semi < 0 ? s.length : semi).trim();
      i = semi < 0 ? s.length : semi;
    }
    if (name && /^[^\s()<>@,;:\\"/[\]?=]+$/.test(name)) out.push([name, value]);
  }
  return out;
}

export function stripComments(s: string): string {
  let out = "";
  let depth = 0;
  let inQuote = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (inQuote) {
      out += c;
      if (c === "\\" && i + 1 < s.length) out += s[++i];
      else if (c === '"') inQuote = false;
    } else if (c === '"' && depth === 0) {
      inQuote = true;
      out += c;
    } else if (c === "(") depth++;
    else if (c === ")" && depth > 0) depth--;
    else if (c === "\\" && depth > 0) i++;
    else if (depth === 0) out += c;
  }
  return out;
}

const TEXT_PLAIN: ContentType = { type: "text", subtype: "plain", params: [["charset", "us-ascii"]] };
const MESSAGE_RFC822: ContentType = { type: "message", subtype: "rfc822", params: [] };

export function parseMime(buf: Buffer): MimePart {
  return parsePart(buf, 0, buf.length, TEXT_PLAIN, 0);
}

function parsePart(buf: Buffer, start: number, end: number, fallback: ContentType, depth: number): MimePart {
  const { headerEnd, bodyStart } = splitHeader(buf, start, end);
  const headers = parseHeaderFields(buf, start, headerEnd);
  const contentType = parseContentType(headerValue(headers, "content-type"), fallback);
  const part: MimePart = {
    start,
    headerEnd,
    bodyStart,
    end,
    headers,
    contentType,
    children: [],
    message: null,
    closeEnd: -1,
  };
  if (depth >= MAX_DEPTH) return part;
  const type = contentType.type.toLowerCase();
  const subtype = contentType.subtype.toLowerCase();
  if (type === "multipart") {
    const boundary = contentType.params.find(([k]) => k.toLowerCase() === "boundary")?.[1];
    if (boundary) {
      const childDefault = subtype === "digest" ? MESSAGE_RFC822 : TEXT_PLAIN;
      const split = splitMultipart(buf, bodyStart, end, boundary);
      part.closeEnd = split.closeEnd;
      for (const [s, e, lineEnd] of split.parts) {
        const child = parsePart(buf, s, e, childDefault, depth + 1);
        // Dovecot counts the line break after a nested part's close delimiter ("--inner--" CRLF) in
        // that part, not in the next delimiter; sizes and sections follow it so they agree with Dovecot.
        if (lineEnd > 0 && endsWithClose(child)) extendEnd(child, e, e + lineEnd);
        part.children.push(child);
      }
    }
  } else if (type === "message" && (subtype === "rfc822" || subtype === "global")) {
    part.message = parsePart(buf, bodyStart, end, TEXT_PLAIN, depth + 1);
  }
  return part;
}

/**
 * Body part ranges of a multipart body (RFC 2046 §5.1.1): a delimiter is CRLF "--" boundary at the start
 * of a line; the CRLF before it belongs to the delimiter, not to the part.
 */
export function splitMultipart(
  buf: Buffer,
  start: number,
  end: number,
  boundary: string,
): { parts: [number, number, number][]; closeEnd: number } {
  const delim = Buffer.from(`--${boundary}`, "latin1");
  /** [start, end, length of the line break between end and the next delimiter] */
  const parts: [number, number, number][] = [];
  let partStart = -1;
  let i = start;
  while (i < end) {
    const at = buf.indexOf(delim, i);
    if (at < 0 || at + delim.length > end) break;
    const lineStart = at === start || buf[at - 1] === 0x0a;
    if (!lineStart) {
      i = at + 1;
      continue;
    }
    // The rest of the delimiter line may only be "--" (close) and/or transport padding.
    let j = at + delim.length;
    const close = buf[j] === 0x2d && buf[j + 1] === 0x2d;
    if (close) j += 2;
    while (j < end && (buf[j] === 0x20 || buf[j] === 0x09)) j++;
    const eol = j >= end || buf[j] === 0x0a || (buf[j] === 0x0d && buf[j + 1] === 0x0a);
    if (!eol) {
      i = at + 1;
      continue;
    }
    let before = at;
    if (at > start && buf[at - 1] === 0x0a) before = at - 1 > start && buf[at - 2] === 0x0d ? at - 2 : at - 1;
    if (partStart >= 0) parts.push([partStart, Math.max(partStart, before), Math.max(0, at - before)]);
    if (close) return { parts, closeEnd: j };
    partStart = j >= end ? end : buf[j] === 0x0d ? j + 2 : j + 1;
    i = partStart;
  }
  // Unterminated multipart: the last part runs to the end.
  if (partStart >= 0) parts.push([partStart, end, 0]);
  return { parts, closeEnd: -1 };
}

function endsWithClose(p: MimePart): boolean {
  if (p.message) return endsWithClose(p.message);
  return p.closeEnd >= 0 && p.closeEnd === p.end;
}

function extendEnd(p: MimePart, oldEnd: number, newEnd: number): void {
  if (p.end !== oldEnd) return;
  p.end = newEnd;
  if (p.message) extendEnd(p.message, oldEnd, newEnd);
}

/** The numbered subparts of a message (root or encapsulated): its children, or itself when not multipart. */
function subparts(message: MimePart): MimePart[] {
  return message.contentType.type.toLowerCase() === "multipart" ? message.children : [message];
}

/** Follows a section part number ("1.2.3", RFC 9051 §6.4.5) to a part; null when it does not exist. */
export function findPart(root: MimePart, path: number[]): MimePart | null {
  let cur: MimePart | null = null;
  /** True when `cur` is the body of a non-multipart message (its "1"): it has no subparts. */
  let bodyOfMessage = false;
  for (const n of path) {
    let list: MimePart[];
    const from: MimePart | null = cur === null ? root : cur.message;
    if (from) {
      list = subparts(from);
      bodyOfMessage =
        list.length === 1 && list[0] === from && from.contentType.type.toLowerCase() !== "multipart";
    } else if (cur!.contentType.type.toLowerCase() === "multipart") {
      list = cur!.children;
      bodyOfMessage = false;
    } else if (!bodyOfMessage) {
      // Dovecot answers "N.1" of a single part inside a multipart with that part itself.
      list = [cur!];
    } else return null;
    cur = list[n - 1] ?? null;
    if (!cur) return null;
  }
  return cur ?? root;
}
