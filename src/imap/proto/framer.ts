// Splits the client's byte stream into whole commands (RFC 9051 §2.2.1): a command is a line, or several
// lines joined by literals (`{N}` synchronizing, `{N+}` LITERAL+ RFC 7888, `~{N}` literal8 RFC 3516).
// It knows nothing about commands beyond the limits; the session answers each event. Input may arrive in
// any chunking: the framer's output does not depend on where chunks are cut (tested at every boundary).

export type FramerEvent =
  /** A complete command: its lines rejoined with CRLF and the literal bytes in place, final CRLF removed. */
  | { kind: "command"; bytes: Buffer }
  /** A plain line while in line mode (IDLE's DONE, AUTHENTICATE responses), CRLF removed. */
  | { kind: "line"; bytes: Buffer }
  /** A synchronizing literal was accepted: the server must send a continuation request ("+ "). */
  | { kind: "continue"; size: number }
  /** The command was dropped because a line was too long; the rest of it was skipped. */
  | { kind: "line-too-long"; tag: string }
  /**
   * A literal was larger than allowed. For a synchronizing literal the client sends nothing more of
   * this command (RFC 9051 §7.5 "+" never came): answer with a tagged NO and read on. A non-synchronizing
   * one is already on its way: `fatal` is true and the connection must end (RFC 7888 §4).
   */
  | { kind: "literal-too-big"; tag: string; size: number; fatal: boolean };

export interface FramerLimits {
  maxLineBytes: number;
  maxCommandBytes: number;
  /** Literal limit for the command whose first line is given (APPEND gets more). */
  maxLiteralBytes: (firstLine: Buffer) => number;
}

const LF = 0x0a;
const CR = 0x0d;
// `{123}`, `{123+}` or `~{123}` at the end of a line.
const LITERAL_AT_END = /~?\{(\d{1,12})(\+?)\}$/;

export class CommandFramer {
  /** In line mode every line is its own event and literals are not interpreted. */
  lineMode = false;
  private buf: Buffer = Buffer.alloc(0);
  /** Where to resume looking for LF in `buf`. */
  private scanFrom = 0;
  private parts: Buffer[] = [];
  private commandBytes = 0;
  private literalLeft = 0;
  private discarding = false;
  private discardTag = "";
  private firstLine: Buffer | null = null;
  /** After a fatal event nothing more is read: the connection is ending. */
  private dead = false;

  constructor(private readonly limits: FramerLimits) {}

  push(chunk: Buffer): FramerEvent[] {
    const events: FramerEvent[] = [];
    if (this.dead) return events;
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    for (;;) {
      if (this.literalLeft > 0) {
        if (this.buf.length === 0) break;
        const take = Math.min(this.literalLeft, this.buf.length);
        this.parts.push(this.buf.subarray(0, take));
        this.buf = this.buf.subarray(take);
        this.literalLeft -= take;
        this.scanFrom = 0;
        continue;
      }
      const lf = this.buf.indexOf(LF, this.scanFrom);
      if (lf < 0) {
        this.scanFrom = this.buf.length;
        if (this.buf.length > this.limits.maxLineBytes) {
          if (!this.discarding) {
            this.discarding = true;
            this.discardTag = tagOf(this.firstLine ?? this.buf);
          }
          this.buf = Buffer.alloc(0);
          this.scanFrom = 0;
        }
        break;
      }
      const end = lf > 0 && this.buf[lf - 1] === CR ? lf - 1 : lf;
      const line = this.buf.subarray(0, end);
      this.buf = this.buf.subarray(lf + 1);
      this.scanFrom = 0;
      if (this.discarding) {
        // The over-long line ends here; drop the whole command it belonged to.
        events.push({ kind: "line-too-long", tag: this.discardTag });
        this.reset();
        continue;
      }
      if (line.length > this.limits.maxLineBytes) {
        events.push({ kind: "line-too-long", tag: tagOf(this.firstLine ?? line) });
        this.reset();
        continue;
      }
      if (this.lineMode && this.parts.length === 0) {
        events.push({ kind: "line", bytes: Buffer.from(line) });
        continue;
      }
      this.firstLine ??= Buffer.from(line);
      this.parts.push(line);
      this.commandBytes += line.length + 2;
      const m = LITERAL_AT_END.exec(line.subarray(Math.max(0, line.length - 20)).toString("latin1"));
      if (!m) {
        const bytes = Buffer.concat(this.parts);
        this.reset();
        events.push({ kind: "command", bytes });
        continue;
      }
      const size = Number(m[1]);
      const sync = m[2] !== "+";
      const max = Math.min(this.limits.maxLiteralBytes(this.firstLine), Number.MAX_SAFE_INTEGER);
      if (size > max || this.commandBytes + size > Math.max(this.limits.maxCommandBytes, max + 64 * 1024)) {
        events.push({ kind: "literal-too-big", tag: tagOf(this.firstLine), size, fatal: !sync });
        this.reset();
        if (!sync) {
          this.buf = Buffer.alloc(0);
          this.dead = true;
          break;
        }
        continue;
      }
      this.parts.push(CRLF);
      this.commandBytes += size;
      this.literalLeft = size;
      if (sync) events.push({ kind: "continue", size });
      if (size === 0) {
        // Zero-length literal: nothing to read, the command goes on with the next line.
        this.literalLeft = 0;
      }
    }
    return events;
  }

  /** Bytes received but not yet part of an event (for tests and back-pressure). */
  get buffered(): number {
    return this.buf.length + this.parts.reduce((n, p) => n + p.length, 0);
  }

  private reset(): void {
    this.parts = [];
    this.commandBytes = 0;
    this.literalLeft = 0;
    this.discarding = false;
    this.discardTag = "";
    this.firstLine = null;
  }
}

const CRLF = Buffer.from("\r\n");

/** The tag of a command line, or "*" when it has none we can use in a tagged answer. */
export function tagOf(line: Buffer): string {
  const sp = line.indexOf(0x20);
  const tag = line.subarray(0, sp < 0 ? Math.min(line.length, 64) : Math.min(sp, 64)).toString("latin1");
  return /^[\x21-\x7e]+$/.test(tag) && !/[(){%*"\\+]/.test(tag) ? tag : "*";
}
