// A raw IMAP conversation over a socket, for tests that check exact bytes on the wire.
import { connect, type Socket } from "node:net";
import { connect as tlsConnect } from "node:tls";

export class RawImap {
  private buf = Buffer.alloc(0);
  private waiters: (() => void)[] = [];
  closed = false;
  private n = 0;
  constructor(public sock: Socket) {
    sock.on("data", (d) => {
      this.buf = Buffer.concat([this.buf, d]);
      for (const w of this.waiters.splice(0)) w();
    });
    sock.on("close", () => {
      this.closed = true;
      for (const w of this.waiters.splice(0)) w();
    });
    sock.on("error", () => {});
  }

  static async open(port: number, tls = false): Promise<RawImap> {
    const sock = tls
      ? tlsConnect({ port, host: "127.0.0.1", rejectUnauthorized: false })
      : connect({ port, host: "127.0.0.1" });
    await new Promise<void>((resolve, reject) => {
      sock.once(tls ? "secureConnect" : "connect", () => resolve());
      sock.once("error", reject);
    });
    const raw = new RawImap(sock);
    await raw.until((s) => s.includes("\r\n"));
    raw.take();
    return raw;
  }

  /** Waits until the received text satisfies `done` (or the socket closes); returns it. */
  async until(done: (text: string) => boolean, timeoutMs = 10_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (!done(this.buf.toString("latin1")) && !this.closed) {
      if (Date.now() > deadline)
        throw new Error(`timeout; got ${JSON.stringify(this.buf.toString("latin1").slice(-500))}`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 200);
      });
    }
    return this.buf.toString("latin1");
  }

  /** Returns and clears what has been received. */
  take(): string {
    const s = this.buf.toString("latin1");
    this.buf = Buffer.alloc(0);
    return s;
  }

  write(data: string | Buffer): void {
    this.sock.write(data);
  }

  /** Sends `tag command` and returns everything up to and including the tagged response. */
  async cmd(command: string | Buffer, tag = `t${++this.n}`): Promise<string> {
    const prefix = Buffer.from(`${tag} `);
    this.write(
      Buffer.concat([
        prefix,
        typeof command === "string" ? Buffer.from(command, "latin1") : command,
        Buffer.from("\r\n"),
      ]),
    );
    const re = new RegExp(`(^|\\r\\n)${tag} (OK|NO|BAD)[^\\r\\n]*\\r\\n`);
    await this.until((s) => re.test(s));
    const text = this.buf.toString("latin1");
    const m = re.exec(text);
    if (!m)
      throw new Error(
        `connection closed before ${tag} was answered; got ${JSON.stringify(text.slice(-300))}`,
      );
    const end = m.index + m[0].length;
    this.buf = this.buf.subarray(end);
    return text.slice(0, end);
  }

  close(): void {
    this.sock.destroy();
  }
}
