// One POP3 connection (RFC 1939) with CAPA (RFC 2449), STLS (RFC 2595), AUTH PLAIN (RFC 5034), UIDL and
// TOP, on the box's INBOX. The maildrop is a snapshot taken at login; DELE marks, QUIT expunges.
import type { Socket } from "node:net";
import { type SecureContext, TLSSocket } from "node:tls";
import { verifyPassword } from "../accounts/passwords.js";
import type { POP3_LIMITS } from "../imap/proto/limits.js";
import type { MailStore } from "../store/mail-store.js";
import type { Mailbox, MessageMeta } from "../store/types.js";

export interface Pop3Context {
  store: MailStore;
  secureContext: SecureContext | null;
  limits: typeof POP3_LIMITS;
  verifyPassword?: (hash: string, password: string) => Promise<boolean>;
  log: { error(obj: object, msg?: string): void };
}

const isLoopback = (a: string | undefined) =>
  !!a && (a === "::1" || a.startsWith("127.") || a.startsWith("::ffff:127."));

type State = "authorization" | "transaction" | "closed";

export class Pop3Session {
  private state: State = "authorization";
  private sock: Socket;
  private secure: boolean;
  private buf = Buffer.alloc(0);
  private lines: string[] = [];
  private running = false;
  private user: string | null = null;
  /** The logged-in box (for logs and future per-user limits). */
  box: Mailbox | null = null;
  private messages: MessageMeta[] = [];
  private deleted = new Set<number>();
  private uidValidity = 0;
  private folderId = 0;
  private bad = 0;
  private authFailures = 0;
  private timer: NodeJS.Timeout | null = null;
  private saslWaiter: ((line: string | null) => void) | null = null;

  constructor(
    sock: Socket,
    private readonly ctx: Pop3Context,
    implicitTls: boolean,
  ) {
    this.sock = sock;
    this.secure = implicitTls;
    this.attach(sock);
  }

  start(): void {
    this.reply("+OK Domicilio POP3 ready");
    this.touch();
  }

  private readonly onData = (chunk: Buffer) => {
    this.touch();
    this.buf = Buffer.concat([this.buf, chunk]);
    for (;;) {
      const lf = this.buf.indexOf(0x0a);
      if (lf < 0) {
        if (this.buf.length > this.ctx.limits.maxLineBytes * 4) {
          this.reply("-ERR Line too long");
          this.end();
        }
        return;
      }
      const line = this.buf.subarray(0, lf).toString("utf8").replace(/\r$/, "");
      this.buf = this.buf.subarray(lf + 1);
      if (this.saslWaiter) {
        const w = this.saslWaiter;
        this.saslWaiter = null;
        w(line);
        continue;
      }
      this.lines.push(line);
    }
    // unreachable
  };
  private readonly onEnd = () => this.cleanup();

  private attach(sock: Socket): void {
    sock.on("data", (c: Buffer) => {
      this.onData(c);
      void this.pump();
    });
    sock.on("close", this.onEnd);
    sock.on("error", () => {
      // A broken connection (or garbage where a TLS handshake should be): drop it.
      this.onEnd();
      sock.destroy();
    });
  }

  private async pump(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      while (this.lines.length && this.state !== "closed") {
        const line = this.lines.shift()!;
        try {
          await this.handle(line);
        } catch (err) {
          this.ctx.log.error({ err }, "pop3 command failed");
          this.reply("-ERR Internal error");
        }
      }
    } finally {
      this.running = false;
    }
  }

  private touch(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.reply("-ERR Autologout; idle for too long");
      this.end();
    }, this.ctx.limits.idleTimeoutMs);
    this.timer.unref();
  }

  private reply(line: string): void {
    if (this.state === "closed" || this.sock.destroyed) return;
    this.sock.write(`${line.replace(/[\r\n]/g, " ")}\r\n`);
  }

  private end(): void {
    this.state = "closed";
    this.sock.end();
    setTimeout(() => this.sock.destroy(), 5000).unref();
    this.cleanup();
  }

  private cleanup(): void {
    if (this.timer) clearTimeout(this.timer);
    this.state = "closed";
    if (this.saslWaiter) {
      const w = this.saslWaiter;
      this.saslWaiter = null;
      w(null);
    }
  }

  private async drain(): Promise<void> {
    if (this.sock.writableLength < 1024 * 1024) return;
    await new Promise<void>((resolve) => {
      this.sock.once("drain", resolve);
      this.sock.once("close", resolve);
    });
  }

  private get plaintextAllowed(): boolean {
    return this.secure || isLoopback(this.sock.remoteAddress);
  }

  private capa(): string[] {
    const caps = ["TOP", "UIDL", "RESP-CODES", "PIPELINING", "AUTH-RESP-CODE"];
    if (this.state === "authorization") {
      if (!this.secure && this.ctx.secureContext) caps.push("STLS");
      if (this.plaintextAllowed) caps.push("USER", "SASL PLAIN");
    }
    caps.push("IMPLEMENTATION Domicilio");
    return caps;
  }

  private countBad(text: string): void {
    this.reply(`-ERR ${text}`);
    if (++this.bad >= this.ctx.limits.maxBadCommands) {
      this.reply("-ERR Too many bad commands");
      this.end();
    }
  }

  private msg(arg: string | undefined): MessageMeta | null {
    if (!arg || !/^\d+$/.test(arg)) return null;
    const n = Number(arg);
    const m = this.messages[n - 1];
    if (!m || this.deleted.has(n)) return null;
    return m;
  }

  private async handle(line: string): Promise<void> {
    const [rawCmd = "", ...args] = line.split(" ");
    const cmd = rawCmd.toUpperCase();
    if (cmd === "CAPA") {
      this.reply("+OK Capability list follows");
      for (const c of this.capa()) this.reply(c);
      this.reply(".");
      return;
    }
    if (cmd === "QUIT") {
      if (this.state === "transaction") await this.commit();
      this.reply("+OK Bye");
      this.end();
      return;
    }
    if (cmd === "NOOP" && this.state === "transaction") {
      this.reply("+OK");
      return;
    }
    if (this.state === "authorization") {
      await this.handleAuth(cmd, args);
      return;
    }
    await this.handleTransaction(cmd, args);
  }

  private async handleAuth(cmd: string, args: string[]): Promise<void> {
    switch (cmd) {
      case "STLS": {
        if (this.secure || !this.ctx.secureContext) return this.countBad("TLS not available now");
        this.lines = [];
        this.reply("+OK Begin TLS negotiation");
        const plain = this.sock;
        plain.removeAllListeners("data");
        plain.removeAllListeners("close");
        plain.removeAllListeners("error");
        plain.on("error", () => {});
        const secure = new TLSSocket(plain, { isServer: true, secureContext: this.ctx.secureContext });
        this.sock = secure;
        this.secure = true;
        this.buf = Buffer.alloc(0);
        this.attach(secure);
        return;
      }
      case "USER":
        if (!this.plaintextAllowed) return this.countBad("[SYS/PERM] Use STLS or port 995 first");
        if (!args[0]) return this.countBad("USER needs a name");
        this.user = args.join(" ");
        this.reply("+OK Send PASS");
        return;
      case "PASS":
        if (!this.user) return this.countBad("USER first");
        await this.login(this.user, args.join(" "));
        return;
      case "AUTH": {
        if (!args[0]) {
          this.reply("+OK");
          if (this.plaintextAllowed) this.reply("PLAIN");
          this.reply(".");
          return;
        }
        if (args[0].toUpperCase() !== "PLAIN") return this.countBad("Unsupported mechanism");
        if (!this.plaintextAllowed) return this.countBad("[SYS/PERM] Use STLS or port 995 first");
        let resp = args[1];
        if (resp === undefined) {
          this.reply("+ ");
          // The answer may already be here, pipelined behind the command.
          const queued = this.lines.shift();
          const line =
            queued ??
            (await new Promise<string | null>((resolve) => {
              this.saslWaiter = resolve;
            }));
          if (line === null) return;
          resp = line;
        }
        if (resp === "*") return this.countBad("AUTH cancelled");
        const parts = Buffer.from(resp === "=" ? "" : resp, "base64")
          .toString("utf8")
          .split("\0");
        if (parts.length !== 3) return this.countBad("Malformed PLAIN response");
        await this.login(parts[1]!, parts[2]!);
        return;
      }
      default:
        this.countBad("Command not valid in this state");
    }
  }

  private async login(address: string, password: string): Promise<void> {
    const box = await this.ctx.store.getMailbox(address).catch(() => null);
    const check = this.ctx.verifyPassword ?? verifyPassword;
    const ok = box ? await check(box.passwordHash, password).catch(() => false) : false;
    this.user = null;
    if (!box || !ok) {
      this.authFailures++;
      await new Promise((r) =>
        setTimeout(r, this.ctx.limits.authFailureDelayMs * 2 ** Math.min(this.authFailures - 1, 4)),
      );
      this.reply("-ERR [AUTH] Invalid credentials");
      if (this.authFailures >= this.ctx.limits.maxAuthFailures) this.end();
      return;
    }
    if (box.state === "waiting-first-access")
      return this.reply("-ERR [AUTH] Box not activated yet: complete the first access on the web");
    if (box.state === "deactivated") return this.reply("-ERR [SYS/PERM] This box has been deactivated");
    const inbox = await this.ctx.store.getFolder(box.id, "INBOX");
    if (!inbox) return this.reply("-ERR [SYS/TEMP] Mailbox not available");
    this.box = box;
    this.folderId = inbox.id;
    this.uidValidity = inbox.uidValidity;
    this.messages = await this.ctx.store.listMessages(inbox.id);
    this.state = "transaction";
    this.reply(`+OK Logged in, ${this.messages.length} messages`);
  }

  private async handleTransaction(cmd: string, args: string[]): Promise<void> {
    switch (cmd) {
      case "STAT": {
        let n = 0;
        let size = 0;
        this.messages.forEach((m, i) => {
          if (this.deleted.has(i + 1)) return;
          n++;
          size += m.size;
        });
        this.reply(`+OK ${n} ${size}`);
        return;
      }
      case "LIST":
      case "UIDL": {
        const value = (m: MessageMeta) => (cmd === "LIST" ? String(m.size) : `${this.uidValidity}.${m.uid}`);
        if (args[0] !== undefined) {
          const m = this.msg(args[0]);
          if (!m) return this.countBad("No such message");
          this.reply(`+OK ${args[0]} ${value(m)}`);
          return;
        }
        this.reply("+OK");
        this.messages.forEach((m, i) => {
          if (!this.deleted.has(i + 1)) this.reply(`${i + 1} ${value(m)}`);
        });
        this.reply(".");
        return;
      }
      case "RETR":
      case "TOP": {
        const m = this.msg(args[0]);
        if (!m) return this.countBad("No such message");
        let lines = -1;
        if (cmd === "TOP") {
          if (!args[1] || !/^\d+$/.test(args[1])) return this.countBad("TOP needs a line count");
          lines = Number(args[1]);
        }
        const bytes = await this.ctx.store.readBlob(m.blobId);
        this.sock.write(`+OK ${cmd === "RETR" ? `${m.size} octets` : "top of message follows"}\r\n`);
        this.sock.write(dotStuff(bytes, lines));
        await this.drain();
        if (cmd === "RETR" && !m.flags.includes("\\Seen")) {
          await this.ctx.store.storeFlags(this.folderId, { uids: [m.uid], mode: "add", flags: ["\\Seen"] });
        }
        return;
      }
      case "DELE": {
        const m = this.msg(args[0]);
        if (!m) return this.countBad("No such message");
        this.deleted.add(Number(args[0]));
        this.reply(`+OK Message ${args[0]} deleted`);
        return;
      }
      case "RSET":
        this.deleted.clear();
        this.reply("+OK");
        return;
      default:
        this.countBad("Unknown command");
    }
  }

  /** UPDATE state (RFC 1939 §6): remove what was marked, and only what was marked. */
  private async commit(): Promise<void> {
    if (this.deleted.size === 0) return;
    const uids = [...this.deleted].map((n) => this.messages[n - 1]!.uid);
    await this.ctx.store.storeFlags(this.folderId, { uids, mode: "add", flags: ["\\Deleted"] });
    await this.ctx.store.expunge(this.folderId, { uids });
  }
}

/**
 * The message for RETR/TOP: CRLF line ends, lines starting with "." doubled, ended by ".". `lines` >= 0
 * keeps the header, the blank line and that many body lines (TOP, RFC 1939 §7).
 */
export function dotStuff(bytes: Buffer, lines: number): Buffer {
  const text = bytes.toString("latin1");
  const all = text.split(/\r?\n/);
  if (all.length > 0 && all[all.length - 1] === "") all.pop();
  let out = all;
  if (lines >= 0) {
    const blank = all.indexOf("");
    out = blank < 0 ? all : all.slice(0, blank + 1 + lines);
  }
  const body = out.map((l) => (l.startsWith(".") ? `.${l}` : l)).join("\r\n");
  return Buffer.from(`${body}${out.length ? "\r\n" : ""}.\r\n`, "latin1");
}
