// A lean SMTP submission load generator for the PEC service bench, in the manner of Postfix's
// smtp-source: it shares the server's two cores, so it must cost as little CPU as possible and measure
// the server rather than itself. Each connection turns on TLS as a member's mail program does
// (STARTTLS, RFC 3207), authenticates once (AUTH PLAIN, RFC 4954) and then
// sends one message at a time with MAIL, RCPT and DATA in one write (PIPELINING, RFC 2920), the
// message already dot-stuffed (RFC 5321 §4.5.2) before the clock starts. Any reply other than the
// expected one fails the run: a bench that counted refusals would measure nothing.
import { connect, type Socket } from "node:net";
import { connect as tlsConnect } from "node:tls";

export interface LoadMessage {
  from: string;
  to: string[];
  /** The message as it goes after DATA: dot-stuffed, CRLF line ends, ending in CRLF. */
  data: Buffer;
}

/** Dot-stuffing (RFC 5321 §4.5.2) and the CRLF the end-of-data line needs before it. */
export function dataForWire(raw: Buffer): Buffer {
  let text = raw.toString("latin1").replace(/\r?\n/g, "\r\n");
  if (!text.endsWith("\r\n")) text += "\r\n";
  // A dot at the start of a line, and only after CRLF: `^` with the m flag would also match after a bare CR.
  return Buffer.from(text.replace(/(^|\r\n)\./g, "$1.."), "latin1");
}

/** Reads whole SMTP replies (the last line has a space after its code, RFC 5321 §4.2.1). */
class ReplyReader {
  private buffered = "";
  private readonly waiting: ((reply: string) => void)[] = [];
  private readonly ready: string[] = [];
  private current = "";

  constructor(socket: Socket) {
    socket.setEncoding("latin1");
    socket.on("data", (chunk: string) => this.push(chunk));
    // A server that hangs up fails the bench rather than leaving it waiting for ever.
    socket.on("close", () => {
      for (const w of this.waiting.splice(0)) w("421 connection closed by the server\r\n");
      this.closed = true;
    });
  }

  private closed = false;

  private push(chunk: string): void {
    this.buffered += chunk;
    let nl = this.buffered.indexOf("\n");
    while (nl >= 0) {
      const line = this.buffered.slice(0, nl + 1);
      this.buffered = this.buffered.slice(nl + 1);
      this.current += line;
      if (line[3] !== "-") {
        const w = this.waiting.shift();
        if (w) w(this.current);
        else this.ready.push(this.current);
        this.current = "";
      }
      nl = this.buffered.indexOf("\n");
    }
  }

  next(): Promise<string> {
    const r = this.ready.shift();
    if (r !== undefined) return Promise.resolve(r);
    if (this.closed) return Promise.resolve("421 connection closed by the server\r\n");
    return new Promise((resolve) => this.waiting.push(resolve));
  }
}

async function expect(reader: ReplyReader, code: string, what: string): Promise<void> {
  const reply = await reader.next();
  if (!reply.startsWith(code)) throw new Error(`${what}: expected ${code}, got ${reply.trim()}`);
}

interface Session {
  socket: import("node:tls").TLSSocket;
  reader: ReplyReader;
  failed: Promise<never>;
}

async function openSession(opts: LoadOptions): Promise<Session> {
  const plain = connect({ host: opts.host, port: opts.port });
  plain.setNoDelay(true);
  let fail: (err: Error) => void = () => {};
  const failed = new Promise<never>((_, reject) => {
    fail = reject;
  });
  // Rejections that nobody awaits yet (the session idle between rounds) are still reported by send.
  failed.catch(() => undefined);
  plain.once("error", fail);
  const greeting = new ReplyReader(plain);
  await Promise.race([expect(greeting, "220", "greeting"), failed]);
  plain.write("EHLO load.bench\r\n");
  await Promise.race([expect(greeting, "250", "EHLO"), failed]);
  plain.write("STARTTLS\r\n");
  await Promise.race([expect(greeting, "220", "STARTTLS"), failed]);
  plain.removeAllListeners("data");
  // The bench's server has the self-signed certificate `domicilio init` made.
  const socket = tlsConnect({ socket: plain, rejectUnauthorized: false });
  socket.once("error", fail);
  await Promise.race([new Promise<void>((resolve) => socket.once("secureConnect", resolve)), failed]);
  const reader = new ReplyReader(socket);
  socket.write("EHLO load.bench\r\n");
  const ehlo = await Promise.race([reader.next(), failed]);
  if (!ehlo.startsWith("250") || !/PIPELINING/i.test(ehlo))
    throw new Error(`EHLO: the server must offer PIPELINING: ${ehlo.trim()}`);
  socket.write(`AUTH PLAIN ${Buffer.from(`\0${opts.user}\0${opts.pass}`).toString("base64")}\r\n`);
  await Promise.race([expect(reader, "235", "AUTH"), failed]);
  return { socket, reader, failed };
}

export interface LoadOptions {
  host: string;
  port: number;
  user: string;
  pass: string;
  connections: number;
}

/**
 * Authenticated submission sessions kept open across calls to `send`, as a mail program or a webmail
 * keeps its session: the figure is the cost of messages, not of logins (argon2id, ~25 ms of CPU each).
 */
export class SubmissionLoad {
  private constructor(private readonly sessions: Session[]) {}

  static async open(opts: LoadOptions): Promise<SubmissionLoad> {
    return new SubmissionLoad(
      await Promise.all(Array.from({ length: opts.connections }, () => openSession(opts))),
    );
  }

  /**
   * Sends every message, each session taking the next one when its last was answered; `onSent` runs
   * at each 250 after DATA. Resolves when all are answered.
   */
  async send(messages: LoadMessage[], onSent?: () => void): Promise<void> {
    let next = 0;
    await Promise.all(
      this.sessions.map(async ({ socket, reader, failed }) => {
        const run = async () => {
          while (next < messages.length) {
            const m = messages[next++]!;
            socket.write(
              `MAIL FROM:<${m.from}>\r\n${m.to.map((t) => `RCPT TO:<${t}>\r\n`).join("")}DATA\r\n`,
            );
            await expect(reader, "250", "MAIL FROM");
            for (let i = 0; i < m.to.length; i++) await expect(reader, "250", "RCPT TO");
            await expect(reader, "354", "DATA");
            socket.write(m.data);
            socket.write(".\r\n");
            await expect(reader, "250", "end of data");
            onSent?.();
          }
        };
        await Promise.race([run(), failed]);
      }),
    );
  }

  async close(): Promise<void> {
    await Promise.all(
      this.sessions.map(async ({ socket, reader }) => {
        socket.write("QUIT\r\n");
        await expect(reader, "221", "QUIT").catch(() => undefined);
        socket.end();
      }),
    );
  }
}
