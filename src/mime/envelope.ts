// IMAP ENVELOPE (RFC 9051 §7.5.2) from raw header fields. Values are given as written (encoded words are
// not decoded, folding is removed), as Dovecot and the RFC do. The result is a neutral tree: strings and
// Buffers are IMAP strings, numbers are numbers, null is NIL, arrays are lists.
import { type HeaderField, headerValue } from "./mime-tree.js";

/**
 * Strings and Buffers are IMAP strings, numbers numbers, null NIL, arrays lists; `joined` items are
 * written back to back (address lists, multipart bodies) and `lit` forces a literal.
 */
export type Sexp = string | Buffer | number | null | { joined: Sexp[] } | { lit: Buffer } | Sexp[];

export function envelope(headers: HeaderField[]): Sexp[] {
  const h = (k: string) => headerValue(headers, k);
  const raw = (k: string) => headers.find((f) => f.key === k)?.raw ?? null;
  const from = addresses(h("from"));
  const sender = addresses(h("sender")) ?? from;
  const replyTo = addresses(h("reply-to")) ?? from;
  return [
    nonEmpty(h("date"), raw("date")),
    nonEmpty(h("subject"), raw("subject")),
    from,
    sender,
    replyTo,
    addresses(h("to")),
    addresses(h("cc")),
    addresses(h("bcc")),
    nonEmpty(h("in-reply-to"), raw("in-reply-to")),
    nonEmpty(h("message-id"), raw("message-id")),
  ];
}

/** Dovecot sends a value that was folded over several lines as a literal; we do the same. */
function nonEmpty(v: Buffer | null, raw: Buffer | null): Sexp {
  if (v === null) return null;
  const t = trimBuf(v);
  if (raw && /\r?\n[ \t]/.test(raw.toString("latin1").replace(/\r?\n$/, ""))) return { lit: t };
  return t;
}

function trimBuf(b: Buffer): Buffer {
  let s = 0;
  let e = b.length;
  while (s < e && (b[s] === 0x20 || b[s] === 0x09)) s++;
  while (e > s && (b[e - 1] === 0x20 || b[e - 1] === 0x09 || b[e - 1] === 0x0d || b[e - 1] === 0x0a)) e--;
  return b.subarray(s, e);
}

type Token = { k: "word"; v: string; quoted: boolean } | { k: "sp"; v: string } | { k: "comment"; v: string };

/** RFC 5322 lexer: specials are single tokens, quoted strings and comments are kept whole. */
function lex(s: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < s.length) {
    const c = s[i]!;
    if (c === " " || c === "\t" || c === "\r" || c === "\n") {
      i++;
      continue;
    }
    if (c === '"') {
      let v = "";
      i++;
      while (i < s.length && s[i] !== '"') {
        if (s[i] === "\\" && i + 1 < s.length) i++;
        v += s[i];
        i++;
      }
      i++;
      out.push({ k: "word", v, quoted: true });
    } else if (c === "(") {
      let depth = 1;
      let v = "";
      i++;
      while (i < s.length && depth > 0) {
        if (s[i] === "\\" && i + 1 < s.length) {
          v += s[i + 1];
          i += 2;
          continue;
        }
        if (s[i] === "(") depth++;
        else if (s[i] === ")") {
          depth--;
          if (depth === 0) break;
        }
        v += s[i];
        i++;
      }
      i++;
      out.push({ k: "comment", v });
    } else if ("<>@,;:[]".includes(c)) {
      out.push({ k: "sp", v: c });
      i++;
    } else {
      let v = "";
      while (i < s.length && !' \t\r\n"(<>@,;:[]'.includes(s[i]!)) v += s[i++];
      // Keep runs of dots inside words (obs-local-part, "a.b").
      out.push({ k: "word", v, quoted: false });
    }
  }
  return out;
}

type Addr = [string | null, null, string | null, string | null];

/** address-list as ENVELOPE address structures; null for an absent or empty field. */
export function addresses(value: Buffer | null): Sexp | null {
  if (value === null) return null;
  const list = parseAddressList(value.toString("latin1"));
  if (list.length === 0) return null;
  // latin1 round-trip keeps 8-bit header bytes intact for the serializer.
  return [{ joined: list.map((a) => a.map((x) => (x === null ? null : Buffer.from(x, "latin1")))) }];
}

export function parseAddressList(s: string): Addr[] {
  const toks = lex(s);
  const out: Addr[] = [];
  let i = 0;
  const parseMailbox = (stop: string[]): Addr | null => {
    // Collect phrase words until "<", or an addr-spec.
    const phrase: string[] = [];
    const comments: string[] = [];
    const startI = i;
    while (i < toks.length) {
      const t = toks[i]!;
      if (t.k === "sp" && (t.v === "<" || stop.includes(t.v) || t.v === ":")) break;
      if (t.k === "comment") comments.push(t.v);
      else phrase.push(t.v);
      i++;
    }
    const t = toks[i];
    if (t && t.k === "sp" && t.v === "<") {
      i++;
      const inner: string[] = [];
      while (i < toks.length && !(toks[i]!.k === "sp" && toks[i]!.v === ">")) {
        const x = toks[i]!;
        if (x.k !== "comment") inner.push(x.k === "word" && x.quoted ? quoteLocal(x.v) : x.v);
        i++;
      }
      i++; // ">"
      // Skip anything up to the separator.
      while (i < toks.length && !(toks[i]!.k === "sp" && stop.includes(toks[i]!.v))) i++;
      const spec = inner.join("").replace(/^(@[^:]*:)/, "");
      const name = phrase.length > 0 ? joinPhrase(toks, startI, phrase) : null;
      return splitSpec(spec, name);
    }
    // addr-spec alone: rebuild it from the tokens (local@domain); a comment is the name (as Dovecot does).
    const spec = rebuild(toks, startI, i);
    if (!spec) return null;
    return splitSpec(spec, comments.length ? comments[comments.length - 1]!.trim() || null : null);
  };
  while (i < toks.length) {
    const t = toks[i]!;
    if (t.k === "sp" && t.v === ",") {
      i++;
      continue;
    }
    // A group: phrase ":" [mailbox-list] ";"
    let j = i;
    while (j < toks.length && !(toks[j]!.k === "sp" && [":", "<", ",", "@"].includes(toks[j]!.v))) j++;
    if (j < toks.length && toks[j]!.v === ":" && toks[j]!.k === "sp") {
      const name = toks
        .slice(i, j)
        .filter((x) => x.k === "word")
        .map((x) => x.v)
        .join(" ");
      out.push([null, null, name, null]);
      i = j + 1;
      while (i < toks.length && !(toks[i]!.k === "sp" && toks[i]!.v === ";")) {
        if (toks[i]!.k === "sp" && toks[i]!.v === ",") {
          i++;
          continue;
        }
        const m = parseMailbox([",", ";"]);
        if (m) out.push(m);
        else i++;
      }
      i++;
      out.push([null, null, null, null]);
      continue;
    }
    const m = parseMailbox([","]);
    if (m) out.push(m);
    else i++;
  }
  return out;
}

function quoteLocal(v: string): string {
  return /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+$/.test(v) ? v : `"${v.replace(/(["\\])/g, "\\$1")}"`;
}

function joinPhrase(toks: Token[], _start: number, words: string[]): string {
  void toks;
  return words.join(" ");
}

function rebuild(toks: Token[], from: number, to: number): string {
  let s = "";
  for (let k = from; k < to; k++) {
    const t = toks[k]!;
    if (t.k === "comment") continue;
    s += t.k === "word" && t.quoted ? quoteLocal(t.v) : t.v;
  }
  return s;
}

function splitSpec(spec: string, name: string | null): Addr {
  const at = spec.lastIndexOf("@");
  if (at < 0) return [name, null, spec || null, null];
  return [name, null, spec.slice(0, at), spec.slice(at + 1)];
}
