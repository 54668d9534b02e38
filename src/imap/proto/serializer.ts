// Encodes server responses (RFC 9051 §7). Values are a small tree: a JS string is written as is (atoms,
// numbers, flags, already-encoded text), `str()` picks quoted or literal, `lit()` always a literal,
// `null` is NIL, arrays are parenthesized lists. Encoding never alters bytes inside literals.

export type Value = string | number | null | Str | Lit | Joined | Value[];
/** Items written back to back with no space: body parts of a multipart, addresses (RFC 9051 §9). */
export interface Joined {
  readonly t: "joined";
  readonly v: Value[];
}
export const joined = (v: Value[]): Joined => ({ t: "joined", v });
export interface Str {
  readonly t: "str";
  readonly v: string | Buffer;
}
export interface Lit {
  readonly t: "lit";
  readonly v: Buffer;
  /** literal8 (RFC 3516 BINARY): "~{N}" */
  readonly binary?: boolean;
}

export const str = (v: string | Buffer): Str => ({ t: "str", v });
export const nstr = (v: string | Buffer | null | undefined): Str | null =>
  v === null || v === undefined ? null : str(v);
export const lit = (v: Buffer, binary = false): Lit => ({ t: "lit", v, binary });

// ASTRING-CHAR (RFC 9051 §9): an atom, "]" allowed.
const ASTRING_ATOM = /^[^\x00-\x20\x7f-\uffff(){%*"\\]+$/;

/** An astring: bare when it is a plain atom (as Dovecot writes mailbox names), quoted or literal otherwise. */
export function astr(v: string): Str | string {
  return ASTRING_ATOM.test(v) && v.toUpperCase() !== "NIL" ? v : str(v);
}

/** Options that change how strings are written: UTF-8 in quoted strings after ENABLE UTF8=ACCEPT. */
export interface EncodeOptions {
  utf8?: boolean;
}

const MAX_QUOTED = 1000;

/** True when `b` can be a quoted string (RFC 9051 §4.3: no CR, LF, NUL; 8-bit only with UTF-8). */
function quotable(b: Buffer, utf8: boolean): boolean {
  if (b.length > MAX_QUOTED) return false;
  for (const c of b) {
    if (c === 0 || c === 0x0a || c === 0x0d) return false;
    if (c >= 0x80 && !utf8) return false;
  }
  return true;
}

export function encodeValue(v: Value, out: Buffer[], opts: EncodeOptions = {}): void {
  if (v === null) out.push(NIL);
  else if (typeof v === "string") out.push(Buffer.from(v, "utf8"));
  else if (typeof v === "number") out.push(Buffer.from(String(v), "latin1"));
  else if (Array.isArray(v)) {
    out.push(OPEN);
    v.forEach((item, i) => {
      if (i > 0) out.push(SPACE);
      encodeValue(item, out, opts);
    });
    out.push(CLOSE);
  } else if (v.t === "joined") {
    for (const item of v.v) encodeValue(item, out, opts);
  } else if (v.t === "lit") {
    out.push(Buffer.from(`${v.binary ? "~" : ""}{${v.v.length}}\r\n`, "latin1"), v.v);
  } else {
    const b = typeof v.v === "string" ? Buffer.from(v.v, "utf8") : v.v;
    if (quotable(b, opts.utf8 ?? false)) {
      out.push(QUOTE);
      let start = 0;
      for (let i = 0; i < b.length; i++) {
        if (b[i] === 0x22 || b[i] === 0x5c) {
          out.push(b.subarray(start, i), BACKSLASH);
          start = i;
        }
      }
      out.push(b.subarray(start), QUOTE);
    } else out.push(Buffer.from(`{${b.length}}\r\n`, "latin1"), b);
  }
}

/** One response line: the values joined by spaces, then CRLF. */
export function encodeLine(values: Value[], opts: EncodeOptions = {}): Buffer {
  const out: Buffer[] = [];
  values.forEach((v, i) => {
    if (i > 0) out.push(SPACE);
    encodeValue(v, out, opts);
  });
  out.push(CRLF);
  return Buffer.concat(out);
}

/** `* ...` untagged response. */
export function untagged(...values: Value[]): Value[] {
  return ["*", ...values];
}

/**
 * Status response text: `OK [CODE args] text`. Human text must not contain CR/LF or "[" at its start
 * confusion; we strip control characters from it so a client-supplied string can never break the line.
 */
export function statusText(
  status: "OK" | "NO" | "BAD" | "BYE" | "PREAUTH",
  code: string | null,
  text: string,
): string {
  const clean = text.replace(/[\x00-\x1f\x7f]/g, " ").trim() || "done";
  return code ? `${status} [${code}] ${clean}` : `${status} ${clean}`;
}

const NIL = Buffer.from("NIL");
const OPEN = Buffer.from("(");
const CLOSE = Buffer.from(")");
const SPACE = Buffer.from(" ");
const QUOTE = Buffer.from('"');
const BACKSLASH = Buffer.from("\\");
const CRLF = Buffer.from("\r\n");
