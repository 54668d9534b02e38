// The server side of an IMAP connection, read without copying the messages it carries: whole responses
// framed from the byte stream (RFC 9051 §2.2.2, §7.5: a response is a line, or lines joined by literals
// `{N}`, and `~{N}` for literal8, RFC 3516), and the FETCH answer of a copy read from them.
//
// Why not imapflow for this: its stream joins each literal into a new buffer (a second copy of every
// message, into memory the process touches for the first time) and its tokenizer builds an object per
// token, about 1 CPU-s of a 150 MB box against 0.4 here (bench/migrate.ts). A literal here stays the list
// of the socket's own chunks; a small message that arrived in one chunk is a view of it.
// Pure code: bytes in, responses out, whatever the chunking (tested at every cut).

export interface ServerResponse {
  /**
   * The response's text around its literals, CRLF and literal announcements removed: `text[i]` comes
   * before `literals[i]`, and there is one more text than literals. Decoded as latin1, byte for byte.
   */
  text: string[];
  /** Each literal as the chunks it arrived in (views of the socket's buffers, not copies). */
  literals: Buffer[][];
}

export interface ResponseLimits {
  /** Longest line, literals apart. */
  maxLineBytes: number;
  /** Largest literal (a message). */
  maxLiteralBytes: number;
}

export class ImapProtocolError extends Error {
  override name = "ImapProtocolError";
}

const LF = 0x0a;
// `{123}` or `~{123}` at the end of a line; `{123+}` is a client's (RFC 7888), never a server's.
const LITERAL_AT_END = /~?\{(\d{1,12})\}$/;

export class ResponseReader {
  private lineParts: Buffer[] = [];
  private lineBytes = 0;
  private texts: string[] = [];
  private literals: Buffer[][] = [];
  private literal: Buffer[] = [];
  private literalLeft = 0;

  constructor(private readonly limits: ResponseLimits) {}

  /** Takes the next bytes from the server; returns the responses they complete, in order. */
  push(chunk: Buffer): ServerResponse[] {
    const out: ServerResponse[] = [];
    let pos = 0;
    while (pos < chunk.length) {
      if (this.literalLeft > 0) {
        const take = Math.min(this.literalLeft, chunk.length - pos);
        this.literal.push(pos === 0 && take === chunk.length ? chunk : chunk.subarray(pos, pos + take));
        this.literalLeft -= take;
        pos += take;
        if (this.literalLeft === 0) this.endLiteral();
        continue;
      }
      const lf = chunk.indexOf(LF, pos);
      const end = lf < 0 ? chunk.length : lf + 1;
      this.lineBytes += end - pos;
      if (this.lineBytes > this.limits.maxLineBytes)
        throw new ImapProtocolError(`server line longer than ${this.limits.maxLineBytes} bytes`);
      this.lineParts.push(chunk.subarray(pos, end));
      pos = end;
      if (lf < 0) break;
      const line = this.lineParts.length === 1 ? this.lineParts[0]! : Buffer.concat(this.lineParts);
      this.lineParts = [];
      this.lineBytes = 0;
      const cut = line.length >= 2 && line[line.length - 2] === 0x0d ? 2 : 1;
      let text = line.toString("latin1", 0, line.length - cut);
      const m = LITERAL_AT_END.exec(text.slice(-16));
      if (!m) {
        this.texts.push(text);
        out.push({ text: this.texts, literals: this.literals });
        this.texts = [];
        this.literals = [];
        continue;
      }
      const size = Number(m[1]);
      if (size > this.limits.maxLiteralBytes)
        throw new ImapProtocolError(
          `server literal of ${size} bytes, more than ${this.limits.maxLiteralBytes}`,
        );
      text = text.slice(0, text.length - m[0].length);
      this.texts.push(text);
      this.literalLeft = size;
      if (size === 0) this.endLiteral();
    }
    return out;
  }

  /**
   * Replaces the bytes held for a response not yet complete by copies of them. The copy's source thread
   * hands the buffers of the responses it has read to another thread (transferred, not copied); a line
   * begun in the same socket read must not lose its bytes with them.
   */
  ownPending(): void {
    this.lineParts = this.lineParts.map(ownedCopy);
    this.literal = this.literal.map(ownedCopy);
    this.literals = this.literals.map((l) => l.map(ownedCopy));
  }

  private endLiteral(): void {
    this.literals.push(this.literal);
    this.literal = [];
  }
}

/** A parsed value of a response (RFC 9051 §9: atom, number, string, NIL, parenthesised list). */
export type Token =
  | { kind: "atom"; value: string }
  | { kind: "string"; value: string }
  | { kind: "literal"; chunks: Buffer[] }
  | { kind: "nil" }
  | { kind: "list"; items: Token[] };

/** Fetch attribute names followed by a bracketed section (RFC 9051 §7.5.2; RFC 3516 for BINARY). */
const SECTIONED = /^(BODY|BODY\.PEEK|BINARY|BINARY\.PEEK|BINARY\.SIZE)$/i;

/**
 * A copy in memory of its own: never a slice of Node's shared allocation pool, whose buffer the source
 * thread could not hand over to another thread (source-worker.ts transfers the buffers of what it read).
 */
export function ownedCopy(bytes: Buffer | string): Buffer {
  const src = typeof bytes === "string" ? Buffer.from(bytes, "latin1") : bytes;
  const out = Buffer.allocUnsafeSlow(src.length);
  src.copy(out);
  return out;
}

/** Reads the tokens of a response from a position of its first text. */
class Tokens {
  private seg = 0;
  constructor(
    private readonly r: ServerResponse,
    private pos: number,
  ) {}

  private get text(): string {
    return this.r.text[this.seg]!;
  }

  private skipSpaces(): void {
    while (this.pos < this.text.length && this.text.charCodeAt(this.pos) === 0x20) this.pos++;
  }

  /** The next token; null at the end of the response or before a closing parenthesis. */
  next(): Token | null {
    this.skipSpaces();
    if (this.pos >= this.text.length) {
      // The end of a text that announced a literal: the literal is the token.
      if (this.seg >= this.r.literals.length) return null;
      const chunks = this.r.literals[this.seg]!;
      this.seg++;
      this.pos = 0;
      return { kind: "literal", chunks };
    }
    const t = this.text;
    const c = t[this.pos]!;
    if (c === ")") return null;
    if (c === "(") {
      this.pos++;
      const items: Token[] = [];
      for (let tok = this.next(); tok; tok = this.next()) items.push(tok);
      if (this.text[this.pos] !== ")") throw new ImapProtocolError("unclosed list in a server response");
      this.pos++;
      return { kind: "list", items };
    }
    if (c === '"') {
      let value = "";
      let i = this.pos + 1;
      for (;;) {
        if (i >= t.length) throw new ImapProtocolError("unterminated string in a server response");
        const ch = t[i]!;
        if (ch === '"') break;
        if (ch === "\\" && i + 1 < t.length) i++;
        value += t[i];
        i++;
      }
      this.pos = i + 1;
      return { kind: "string", value };
    }
    // An atom, a number, or a fetch attribute name: `BODY[HEADER.FIELDS (A B)]<0>` keeps its bracketed
    // section whole, spaces and parentheses included (RFC 9051 §7.5.2, msg-att-static). Only those
    // names open a section: "[" is an ordinary atom character elsewhere (a keyword `todo[x`).
    let i = this.pos;
    while (i < t.length) {
      const ch = t.charCodeAt(i);
      if (ch === 0x5b /* [ */ && SECTIONED.test(t.slice(this.pos, i))) {
        const close = t.indexOf("]", i);
        if (close < 0) throw new ImapProtocolError("unclosed section in a server response");
        i = close + 1;
        continue;
      }
      if (ch === 0x20 || ch === 0x28 || ch === 0x29) break;
      i++;
    }
    const value = t.slice(this.pos, i);
    this.pos = i;
    return value.toUpperCase() === "NIL" ? { kind: "nil" } : { kind: "atom", value };
  }
}

/** The attributes of a FETCH response that a copy asks for (RFC 9051 §7.5.2), each when present. */
export interface FetchAttributes {
  uid?: number;
  flags?: string[];
  /** RFC822.SIZE */
  size?: number;
  /** The INTERNALDATE text, as the server wrote it. */
  internalDate?: string;
  /** BODY[] (whole, no partial) as the chunks it arrived in. */
  body?: Buffer[];
}

const FETCH_START = /^\* \d+ FETCH \(/i;

/** Reads a FETCH response's attributes, in any order; null for any other response (EXISTS, EXPUNGE…). */
export function readFetch(r: ServerResponse): FetchAttributes | null {
  const head = FETCH_START.exec(r.text[0]!);
  if (!head) return null;
  const list = new Tokens(r, head[0].length - 1).next();
  if (list?.kind !== "list") return null;
  const out: FetchAttributes = {};
  const items = list.items;
  for (let i = 0; i + 1 < items.length; i += 2) {
    const k = items[i]!;
    const v = items[i + 1]!;
    if (k.kind !== "atom") continue;
    const key = k.value.toUpperCase();
    if (key === "UID" && v.kind === "atom") out.uid = wholeNumber(v.value);
    else if (key === "RFC822.SIZE" && v.kind === "atom") out.size = wholeNumber(v.value);
    else if (key === "FLAGS" && v.kind === "list")
      out.flags = v.items.flatMap((f) => (f.kind === "atom" ? [f.value] : []));
    else if (key === "INTERNALDATE" && v.kind === "string") out.internalDate = v.value;
    else if (key === "BODY[]" || key === "BINARY[]") {
      // A server may send the body as a quoted string: latin1 gives back the bytes it sent.
      if (v.kind === "literal") out.body = v.chunks;
      else if (v.kind === "string") out.body = [ownedCopy(v.value)];
    }
  }
  return out;
}

function wholeNumber(s: string): number | undefined {
  return /^\d{1,15}$/.test(s) ? Number(s) : undefined;
}

/** A message's answer to `UID FETCH … (UID FLAGS INTERNALDATE BODY.PEEK[])`. */
export type FetchedBody = Omit<FetchAttributes, "uid" | "body" | "size"> & { uid: number; body: Buffer[] };

/**
 * A FETCH response carrying a whole body; null for any other response (a flag change the server
 * announces, EXISTS, EXPUNGE…) and for a FETCH without UID or body.
 */
export function readFetchBody(r: ServerResponse): FetchedBody | null {
  const a = readFetch(r);
  if (!a?.body || !a.uid) return null;
  return {
    uid: a.uid,
    body: a.body,
    ...(a.flags ? { flags: a.flags } : {}),
    ...(a.internalDate !== undefined ? { internalDate: a.internalDate } : {}),
  };
}

/** A message's answer to the scan, `UID FETCH 1:* (UID FLAGS RFC822.SIZE)`. */
export interface ScannedAttributes {
  uid: number;
  flags: string[];
  size: number;
}

/** A FETCH response with UID and size; null otherwise (an unsolicited flag change is not an answer). */
export function readScan(r: ServerResponse): ScannedAttributes | null {
  const a = readFetch(r);
  if (!a?.uid || a.size === undefined) return null;
  return { uid: a.uid, flags: a.flags ?? [], size: a.size };
}

/** A tagged status response (RFC 9051 §7.1): `TAG OK|NO|BAD [CODE …] text`. */
export interface TaggedStatus {
  tag: string;
  status: "OK" | "NO" | "BAD";
  /** The response code's name, upper case (`AUTHENTICATIONFAILED`), or "". */
  code: string;
  text: string;
}

const TAGGED = /^([^\s*+]+) (OK|NO|BAD)(?: (.*))?$/i;

export function readTagged(line: string): TaggedStatus | null {
  const m = TAGGED.exec(line);
  if (!m) return null;
  const text = m[3] ?? "";
  const code = /^\[([A-Za-z0-9.-]+)/.exec(text)?.[1]?.toUpperCase() ?? "";
  return { tag: m[1]!, status: m[2]!.toUpperCase() as TaggedStatus["status"], code, text };
}

/** The value of a response code in an untagged OK: `* OK [UIDVALIDITY 3857529045] UIDs valid`. */
export function untaggedCode(line: string, code: string): string | null {
  const m = /^\* OK \[([A-Za-z0-9.-]+) ([^\]]*)\]/i.exec(line);
  return m && m[1]!.toUpperCase() === code ? m[2]! : null;
}

/** The capabilities a line announces: `* CAPABILITY …`, or an OK/PREAUTH greeting's `[CAPABILITY …]`. */
export function capabilitiesOf(line: string): Set<string> | null {
  const m = /^\* CAPABILITY (.*)$/i.exec(line) ?? /^\S+ (?:OK|PREAUTH) \[CAPABILITY ([^\]]*)\]/i.exec(line);
  return m ? new Set(m[1]!.trim().toUpperCase().split(/\s+/)) : null;
}

/** A string argument of a command (RFC 9051 §4.3): quoted, or null when it needs a literal. */
export function quoted(s: string): string | null {
  // CR, LF, NUL and 8-bit characters cannot be quoted.
  if (/[\r\n\0\u0080-\uffff]/.test(s)) return null;
  return `"${s.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/** One answer to LIST or LSUB (RFC 9051 §7.3.1, RFC 3501 §7.2.3): the name as the server wrote it. */
export interface ListedName {
  attributes: string[];
  /** The hierarchy separator; null for NIL (a flat namespace). */
  delimiter: string | null;
  /** The name on the wire: modified UTF-7 (RFC 3501 §5.1.3), or UTF-8 from a server that sends it raw. */
  name: string;
}

/** Reads `* LIST (\HasNoChildren) "/" "Sent"` (or LSUB); null for any other response. */
export function readListed(r: ServerResponse, command: "LIST" | "LSUB"): ListedName | null {
  const head = new RegExp(`^\\* ${command} `, "i").exec(r.text[0]!);
  if (!head) return null;
  const tokens = new Tokens(r, head[0].length);
  const attrs = tokens.next();
  const delim = tokens.next();
  const name = tokens.next();
  if (attrs?.kind !== "list" || !delim || !name) throw new ImapProtocolError(`unreadable ${command} answer`);
  return {
    attributes: attrs.items.flatMap((a) => (a.kind === "atom" ? [a.value] : [])),
    delimiter: delim.kind === "string" ? delim.value : null,
    // A folder may be called NIL: as a name, the atom is the word (RFC 9051 §9 mailbox is an astring).
    name: name.kind === "nil" ? "NIL" : textOf(name),
  };
}

/** The namespaces of `* NAMESPACE (("INBOX." ".")) (("user." ".")) NIL` (RFC 2342 §5), as their prefixes. */
export interface Namespaces {
  /** The box's own folders. */
  personal: string[];
  /** Other users' folders shared with the box, and folders shared by all. */
  others: string[];
}

/** Reads a NAMESPACE answer; null for any other response. */
export function readNamespaces(r: ServerResponse): Namespaces | null {
  const head = /^\* NAMESPACE /i.exec(r.text[0]!);
  if (!head) return null;
  const tokens = new Tokens(r, head[0].length);
  const prefixes = (t: Token | null): string[] =>
    t?.kind !== "list"
      ? []
      : t.items.flatMap((ns) => {
          const prefix = ns.kind === "list" ? ns.items[0] : undefined;
          return prefix && prefix.kind !== "list" && prefix.kind !== "nil" ? [textOf(prefix)] : [];
        });
  const personal = prefixes(tokens.next());
  const others = [...prefixes(tokens.next()), ...prefixes(tokens.next())];
  return { personal, others };
}

/** An astring's text. 8-bit bytes are read as UTF-8: the response's text lines hold them as latin1. */
function textOf(t: Token): string {
  if (t.kind === "literal") return Buffer.concat(t.chunks).toString("utf8");
  if (t.kind === "atom" || t.kind === "string")
    return /[^\x00-\x7f]/.test(t.value) ? Buffer.from(t.value, "latin1").toString("utf8") : t.value;
  return "";
}
