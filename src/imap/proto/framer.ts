// Splits the client's byte stream into whole commands (RFC 9051 §2.2.1): a command is a line, or several
// lines joined by literals (`{N}` synchronizing, `{N+}` LITERAL+ RFC 7888, `~{N}` literal8 RFC 3516).
// It knows nothing about commands beyond the limits; the session answers each event. Input may arrive in
// any chunking: the framer's output does not depend on where chunks are cut (tested at every boundary).
//
// Framing is pulled, one event at a time (`next()`), by the session when it is ready for the next
// command, not pushed as bytes arrive. Only the session knows, once it has run a command, whether the
// lines after it are commands or continuation data (IDLE's DONE, RFC 2177 §3; AUTHENTICATE responses,
// RFC 9051 §6.2.2), which carry no literals: bytes read ahead stay raw until then, so a line sent during
// IDLE is never mistaken for a command announcing a literal, and events are answered in stream order.

export type FramerEvent =
  /** A complete command: its lines rejoined with CRLF and the literal bytes in place, final CRLF removed. */
  | { kind: "command"; bytes: Buffer }
  /** A plain line while in line mode (IDLE's DONE, AUTHENTICATE responses), CRLF removed. */
  | { kind: "line"; bytes: Buffer }
  /** A synchronizing literal was accepted: the server must send a continuation request ("+ "). */
  | { kind: "continue"; size: number }
  /** The command (or, in line mode, the line) was dropped because a line was too long; the rest of it was skipped. */
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
/** Enough of a line's end to hold the longest literal announcement `~{999999999999+}`. */
const TAIL_BYTES = 20;
/** Enough of a command's start for its tag and name (the tag and the literal limit depend on them). */
const HEAD_BYTES = 64;

export class CommandFramer {
  /**
   * In line mode every line is its own event and literals are not interpreted. The session sets it
   * before pulling a continuation line and clears it after; it only takes effect between commands.
   */
  lineMode = false;
  private buf: Buffer = Buffer.alloc(0);
  /** Where to resume looking for LF in `buf`. */
  private scanFrom = 0;
  private parts: Buffer[] = [];
  private commandBytes = 0;
  private literalLeft = 0;
  private firstLine: Buffer | null = null;
  /**
   * Skipping a command because one of its lines was too long. Its bytes are dropped as they come, but
   * its literals are still followed: a LITERAL+ literal's data is on its way and is part of the same
   * command, not a new one (reading it as commands is the CRLF injection RFC 7888 §4 warns about).
   */
  private discarding = false;
  /** The first bytes of the command being skipped (its tag, and its name for the literal limit). */
  private discardHead: Buffer = Buffer.alloc(0);
  /** The last bytes of the over-long line seen so far: whether it announces a literal. */
  private discardTail: Buffer = Buffer.alloc(0);
  /** Literal bytes being skipped with the command rather than kept. */
  private skipLiteral = false;
  /** After a fatal event nothing more is read: the connection is ending. */
  private dead = false;

  constructor(private readonly limits: FramerLimits) {}

  /** Takes bytes from the client; they are framed by `next()`. */
  write(chunk: Buffer): void {
    if (this.dead || chunk.length === 0) return;
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
  }

  /** Takes bytes and frames everything they complete (a reader that never switches to line mode). */
  push(chunk: Buffer): FramerEvent[] {
    this.write(chunk);
    const events: FramerEvent[] = [];
    for (let ev = this.next(); ev; ev = this.next()) events.push(ev);
    return events;
  }

  /** The next event, or null when more bytes are needed. */
  next(): FramerEvent | null {
    if (this.dead) return null;
    for (;;) {
      if (this.literalLeft > 0) {
        if (this.buf.length === 0) return null;
        const take = Math.min(this.literalLeft, this.buf.length);
        if (!this.skipLiteral) this.parts.push(this.buf.subarray(0, take));
        this.buf = this.buf.subarray(take);
        this.literalLeft -= take;
        this.scanFrom = 0;
        continue;
      }
      const lf = this.buf.indexOf(LF, this.scanFrom);
      if (lf < 0) {
        this.scanFrom = this.buf.length;
        if (this.buf.length > this.limits.maxLineBytes || (this.discarding && this.buf.length > TAIL_BYTES)) {
          // Too long already: keep only what decides how the command goes on, not the line itself.
          if (!this.discarding) this.startDiscard(this.buf);
          this.discardTail = lastBytes(Buffer.concat([this.discardTail, this.buf]), TAIL_BYTES + 1);
          this.buf = Buffer.alloc(0);
          this.scanFrom = 0;
        }
        return null;
      }
      const end = lf > 0 && this.buf[lf - 1] === CR ? lf - 1 : lf;
      const line = this.buf.subarray(0, end);
      this.buf = this.buf.subarray(lf + 1);
      this.scanFrom = 0;
      if (!this.discarding && line.length > this.limits.maxLineBytes) this.startDiscard(line);
      if (this.discarding) {
        const ev = this.endDiscardedLine(line);
        if (ev) return ev;
        continue;
      }
      if (this.lineMode && this.parts.length === 0) return { kind: "line", bytes: Buffer.from(line) };
      this.firstLine ??= Buffer.from(line);
      this.parts.push(line);
      this.commandBytes += line.length + 2;
      const m = LITERAL_AT_END.exec(line.subarray(Math.max(0, line.length - TAIL_BYTES)).toString("latin1"));
      if (!m) {
        const bytes = Buffer.concat(this.parts);
        this.reset();
        return { kind: "command", bytes };
      }
      const size = Number(m[1]);
      const sync = m[2] !== "+";
      const max = Math.min(this.limits.maxLiteralBytes(this.firstLine), Number.MAX_SAFE_INTEGER);
      if (size > max || this.commandBytes + size > Math.max(this.limits.maxCommandBytes, max + 64 * 1024)) {
        const tag = tagOf(this.firstLine);
        this.reset();
        if (!sync) return this.die({ kind: "literal-too-big", tag, size, fatal: true });
        return { kind: "literal-too-big", tag, size, fatal: false };
      }
      this.parts.push(CRLF);
      this.commandBytes += size;
      // Zero-length literal: nothing to read, the command goes on with the next line.
      this.literalLeft = size;
      if (sync) return { kind: "continue", size };
    }
  }

  /** Bytes received but not yet part of an event (for tests and back-pressure). */
  get buffered(): number {
    return this.buf.length + this.parts.reduce((n, p) => n + p.length, 0);
  }

  /** Bytes received and not framed at all yet: how far the client is ahead of the session. */
  get unread(): number {
    return this.buf.length;
  }

  private startDiscard(line: Buffer): void {
    this.discarding = true;
    this.discardHead = Buffer.from((this.firstLine ?? line).subarray(0, HEAD_BYTES));
    this.discardTail = Buffer.alloc(0);
    this.parts = [];
    this.commandBytes = 0;
  }

  /**
   * A line of a command being skipped has ended. If it announces a LITERAL+ literal, the client is
   * sending that literal and the rest of the command without waiting for us (RFC 7888 §4): skip them too.
   * Otherwise the command ends here: either the line was its last, or it announces a synchronizing
   * literal, which the client sends only after a "+" that will never come (RFC 9051 §7.5); it reads our
   * tagged BAD instead and gives the command up.
   */
  private endDiscardedLine(rest: Buffer): FramerEvent | null {
    let tail = lastBytes(Buffer.concat([this.discardTail, rest]), TAIL_BYTES + 1);
    // The CR before LF may have been kept with the tail of an earlier chunk.
    if (tail.length > 0 && tail[tail.length - 1] === CR && rest.length === 0) tail = tail.subarray(0, -1);
    this.discardTail = Buffer.alloc(0);
    const m = this.lineMode ? null : LITERAL_AT_END.exec(lastBytes(tail, TAIL_BYTES).toString("latin1"));
    const tag = tagOf(this.discardHead);
    if (m && m[2] === "+") {
      const size = Number(m[1]);
      const max = Math.min(this.limits.maxLiteralBytes(this.discardHead), Number.MAX_SAFE_INTEGER);
      if (size > max) {
        this.reset();
        return this.die({ kind: "literal-too-big", tag, size, fatal: true });
      }
      this.literalLeft = size;
      this.skipLiteral = true;
      return null;
    }
    this.reset();
    return { kind: "line-too-long", tag };
  }

  private die(ev: FramerEvent): FramerEvent {
    this.buf = Buffer.alloc(0);
    this.dead = true;
    return ev;
  }

  private reset(): void {
    this.parts = [];
    this.commandBytes = 0;
    this.literalLeft = 0;
    this.discarding = false;
    this.discardHead = Buffer.alloc(0);
    this.discardTail = Buffer.alloc(0);
    this.skipLiteral = false;
    this.firstLine = null;
  }
}

const CRLF = Buffer.from("\r\n");

function lastBytes(buf: Buffer, n: number): Buffer {
  return buf.length <= n ? buf : buf.subarray(buf.length - n);
}

/** The tag of a command line, or "*" when it has none we can use in a tagged answer. */
export function tagOf(line: Buffer): string {
  const sp = line.indexOf(0x20);
  const tag = line.subarray(0, sp < 0 ? Math.min(line.length, 64) : Math.min(sp, 64)).toString("latin1");
  return /^[\x21-\x7e]+$/.test(tag) && !/[(){%*"\\+]/.test(tag) ? tag : "*";
}
