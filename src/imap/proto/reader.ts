// A cursor over one complete command (as the framer delivers it) with the grammar's building blocks
// (RFC 9051 §9). Command parsers are written with it; any mismatch throws ParseError, which the session
// answers with a tagged BAD.

export class ParseError extends Error {
  override name = "ParseError";
}

// RFC 9051 §9: atom-specials = "(" / ")" / "{" / SP / CTL / list-wildcards / quoted-specials / resp-specials
const ATOM_CHAR = new Uint8Array(256);
for (let c = 0x21; c < 0x7f; c++) ATOM_CHAR[c] = 1;
for (const ch of '(){%*"\\]') ATOM_CHAR[ch.charCodeAt(0)] = 0;
/** ASTRING-CHAR = ATOM-CHAR / resp-specials */
const ASTRING_CHAR = ATOM_CHAR.slice();
ASTRING_CHAR[0x5d] = 1;
/** list-mailbox chars: ATOM-CHAR / list-wildcards / resp-specials */
const LIST_CHAR = ASTRING_CHAR.slice();
LIST_CHAR[0x25] = 1;
LIST_CHAR[0x2a] = 1;
/** tag = 1*<any ASTRING-CHAR except "+"> */
const TAG_CHAR = ASTRING_CHAR.slice();
TAG_CHAR[0x2b] = 0;

const MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];

export class Reader {
  pos = 0;
  /** With UTF8=ACCEPT (RFC 6855) quoted strings may carry UTF-8. */
  utf8 = false;
  constructor(readonly buf: Buffer) {}

  get atEnd(): boolean {
    return this.pos >= this.buf.length;
  }
  peek(): number {
    return this.pos < this.buf.length ? this.buf[this.pos]! : -1;
  }
  peekChar(): string {
    return this.atEnd ? "" : String.fromCharCode(this.peek());
  }
  fail(what: string): never {
    throw new ParseError(`${what} expected at octet ${this.pos}`);
  }
  end(): void {
    if (!this.atEnd) this.fail("end of command");
  }
  sp(): void {
    if (this.peek() !== 0x20) this.fail("space");
    this.pos++;
  }
  /** Consumes `s` (case-insensitive) if it is next. */
  take(s: string): boolean {
    if (this.pos + s.length > this.buf.length) return false;
    const got = this.buf.toString("latin1", this.pos, this.pos + s.length);
    if (got.toUpperCase() !== s.toUpperCase()) return false;
    this.pos += s.length;
    return true;
  }
  expect(s: string): void {
    if (!this.take(s)) this.fail(JSON.stringify(s));
  }
  private run(table: Uint8Array, what: string): string {
    const start = this.pos;
    while (this.pos < this.buf.length && table[this.buf[this.pos]!]) this.pos++;
    if (this.pos === start) this.fail(what);
    return this.buf.toString("latin1", start, this.pos);
  }
  tag(): string {
    return this.run(TAG_CHAR, "tag");
  }
  atom(): string {
    return this.run(ATOM_CHAR, "atom");
  }
  /** An atom that may also contain "]" (used for command names, flags, fetch items). */
  astringAtom(): string {
    return this.run(ASTRING_CHAR, "atom");
  }
  number(): number {
    const start = this.pos;
    while (this.pos < this.buf.length && this.buf[this.pos]! >= 0x30 && this.buf[this.pos]! <= 0x39)
      this.pos++;
    if (this.pos === start) this.fail("number");
    if (this.pos - start > 20) this.fail("smaller number");
    const n = Number(this.buf.toString("latin1", start, this.pos));
    if (!Number.isSafeInteger(n)) this.fail("smaller number");
    return n;
  }
  /** number (RFC 9051: 32-bit unsigned) */
  number32(): number {
    const n = this.number();
    if (n > 0xffffffff) this.fail("32-bit number");
    return n;
  }
  nzNumber(): number {
    const n = this.number32();
    if (n === 0) this.fail("non-zero number");
    return n;
  }
  /** quoted / literal, as bytes. */
  stringBytes(): Buffer {
    const c = this.peek();
    if (c === 0x22) return this.quoted();
    if (c === 0x7b || c === 0x7e) return this.literal();
    return this.fail("string");
  }
  /** RFC 9051 §4.3: quoted strings may not contain CR, LF or NUL; "\\" only escapes "\\" and '"'. */
  private quoted(): Buffer {
    this.pos++;
    const out: number[] = [];
    for (;;) {
      if (this.atEnd) this.fail("closing quote");
      const c = this.buf[this.pos++]!;
      if (c === 0x22) break;
      if (c === 0x5c) {
        const n = this.buf[this.pos++];
        if (n !== 0x22 && n !== 0x5c) this.fail("quoted-special after backslash");
        out.push(n);
        continue;
      }
      if (c === 0x0d || c === 0x0a || c === 0) this.fail("TEXT-CHAR");
      if (c >= 0x80 && !this.utf8) this.fail("7-bit character");
      out.push(c);
    }
    return Buffer.from(out);
  }
  private literal(): Buffer {
    this.take("~");
    this.expect("{");
    const n = this.number();
    this.take("+");
    this.expect("}\r\n");
    if (this.pos + n > this.buf.length) this.fail("literal data");
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }
  /** Whether the next token is a literal8 (`~{`), which APPEND and BINARY care about. */
  get nextIsLiteral8(): boolean {
    return this.peek() === 0x7e;
  }
  string(): string {
    return this.stringBytes().toString("utf8");
  }
  astringBytes(): Buffer {
    const c = this.peek();
    if (c === 0x22 || c === 0x7b || c === 0x7e) return this.stringBytes();
    return Buffer.from(this.run(ASTRING_CHAR, "astring"), "latin1");
  }
  astring(): string {
    return this.astringBytes().toString("utf8");
  }
  nstring(): string | null {
    if (this.take("NIL")) return null;
    return this.string();
  }
  /** list-mailbox = 1*list-char / string (RFC 9051 §9) */
  listMailbox(): string {
    const c = this.peek();
    if (c === 0x22 || c === 0x7b) return this.string();
    const start = this.pos;
    while (this.pos < this.buf.length && (LIST_CHAR[this.buf[this.pos]!] || this.buf[this.pos]! >= 0x80))
      this.pos++;
    if (this.pos === start) this.fail("list-mailbox");
    return this.buf.toString("utf8", start, this.pos);
  }
  /** flag = "\" atom / atom (RFC 9051 §9), keeping the backslash. */
  flag(): string {
    if (this.peek() === 0x5c) {
      this.pos++;
      if (this.peek() === 0x2a) {
        this.pos++;
        return "\\*";
      }
      return "\\" + this.atom();
    }
    return this.atom();
  }
  /** flag-list = "(" [flag *(SP flag)] ")" */
  flagList(): string[] {
    return this.parenList(() => this.flag());
  }
  /** A parenthesized list of atoms or strings (parameters of ID, ENABLE lists, and so on). */
  parenList<T>(item: () => T): T[] {
    this.expect("(");
    const out: T[] = [];
    while (!this.take(")")) {
      if (out.length > 0) this.sp();
      out.push(item());
    }
    return out;
  }
  /** date = date-text / DQUOTE date-text DQUOTE; date-text = date-day "-" date-month "-" date-year */
  date(): Date {
    const quoted = this.take('"');
    const day = this.number();
    this.expect("-");
    const mon = MONTHS.indexOf(this.buf.toString("latin1", this.pos, this.pos + 3).toLowerCase());
    if (mon < 0) this.fail("month");
    this.pos += 3;
    this.expect("-");
    const year = this.number();
    if (quoted) this.expect('"');
    if (day < 1 || day > 31 || year < 1000 || year > 9999) this.fail("valid date");
    return new Date(Date.UTC(year, mon, day));
  }
  /** date-time = DQUOTE date-day-fixed "-" date-month "-" date-year SP time SP zone DQUOTE */
  dateTime(): Date {
    this.expect('"');
    if (this.peek() === 0x20) this.pos++;
    const day = this.number();
    this.expect("-");
    const mon = MONTHS.indexOf(this.buf.toString("latin1", this.pos, this.pos + 3).toLowerCase());
    if (mon < 0) this.fail("month");
    this.pos += 3;
    this.expect("-");
    const year = this.number();
    this.sp();
    const t = this.buf.toString("latin1", this.pos, this.pos + 8);
    if (!/^\d\d:\d\d:\d\d$/.test(t)) this.fail("time");
    this.pos += 8;
    this.sp();
    const z = this.buf.toString("latin1", this.pos, this.pos + 5);
    if (!/^[+-]\d{4}$/.test(z)) this.fail("zone");
    this.pos += 5;
    this.expect('"');
    const [hh, mm, ss] = t.split(":").map(Number) as [number, number, number];
    if (day < 1 || day > 31 || hh > 23 || mm > 59 || ss > 60) this.fail("valid date-time");
    const sign = z[0] === "-" ? -1 : 1;
    const offMin = sign * (Number(z.slice(1, 3)) * 60 + Number(z.slice(3, 5)));
    return new Date(Date.UTC(year, mon, day, hh, mm, ss) - offMin * 60_000);
  }
}
