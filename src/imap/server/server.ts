// The IMAP listeners: 143 (STARTTLS) and 993 (implicit TLS) on one store. Fans the store's change events
// out to the sessions that have the changed folder selected, and enforces connections per IP.
import type { Server, Socket } from "node:net";
import { createSecureContext } from "node:tls";
import { listenSockets } from "../../net/listen.js";
import type { MailStore } from "../../store/mail-store.js";
import { IMAP_LIMITS } from "../proto/limits.js";
import { createRegistry } from "./commands/index.js";
import { type Logger, type ServerContext, Session } from "./session.js";

export interface ImapServerOptions {
  store: MailStore;
  /** PEM key and certificate for STARTTLS and port 993; null: plain text only (tests, loopback). */
  tls: { key: string; cert: string } | null;
  log?: Logger;
  limits?: Partial<typeof IMAP_LIMITS>;
  verifyPassword?: (hash: string, password: string) => Promise<boolean>;
}

const silentLog: Logger = { info() {}, warn() {}, error() {} };

export class ImapServer {
  readonly ctx: ServerContext;
  private readonly servers: Server[] = [];
  private readonly sessions = new Set<Session>();
  private readonly perIp = new Map<string, number>();
  private readonly unsubscribe: () => void;
  private readonly tlsPair: { key: string; cert: string } | null;

  constructor(options: ImapServerOptions) {
    this.ctx = {
      store: options.store,
      registry: createRegistry(),
      secureContext: options.tls ? createSecureContext(options.tls) : null,
      log: options.log ?? silentLog,
      limits: { ...IMAP_LIMITS, ...options.limits },
      watchers: new Map(),
      userConnections: new Map(),
      recentBoundary: new Map(),
      ...(options.verifyPassword ? { verifyPassword: options.verifyPassword } : {}),
    };
    this.tlsPair = options.tls;
    this.unsubscribe = options.store.onChange((ev) => {
      // Mail arriving in a folder nobody has looked at yet is \Recent for the first session that does.
      if (!this.ctx.recentBoundary.has(ev.folderId)) {
        const first = ev.changes.find((c) => c.kind === "append" && c.uid !== null);
        if (first?.uid) this.ctx.recentBoundary.set(ev.folderId, first.uid - 1);
      }
      const set = this.ctx.watchers.get(ev.folderId);
      if (set) for (const s of set) s.onFolderChange();
    });
  }

  /** Starts a listener; `tls` true for implicit TLS (993). Resolves with the bound port. */
  async listen(port: number, host: string, tls: boolean): Promise<number> {
    if (tls && !this.ctx.secureContext) throw new Error("implicit TLS needs a certificate");
    const { server, port: bound } = await listenSockets({
      port,
      host,
      ...(tls ? { tls: this.tlsPair! } : {}),
      onSocket: (sock) => this.accept(sock, tls),
    });
    server.on("error", (err) => this.ctx.log.error({ err }, "imap listener error"));
    this.servers.push(server);
    return bound;
  }

  private accept(sock: Socket, tls: boolean): void {
    sock.setNoDelay(true);
    sock.on("error", () => {});
    const ip = sock.remoteAddress ?? "?";
    const n = this.perIp.get(ip) ?? 0;
    if (n >= this.ctx.limits.maxConnectionsPerIp) {
      sock.end("* BYE Too many connections from your address\r\n");
      return;
    }
    this.perIp.set(ip, n + 1);
    const session = new Session(sock, this.ctx, tls);
    this.sessions.add(session);
    sock.once("close", () => {
      this.sessions.delete(session);
      const left = (this.perIp.get(ip) ?? 1) - 1;
      if (left <= 0) this.perIp.delete(ip);
      else this.perIp.set(ip, left);
    });
    session.start();
  }

  get connectionCount(): number {
    return this.sessions.size;
  }

  async close(): Promise<void> {
    this.unsubscribe();
    for (const s of this.sessions) s.bye("Server shutting down");
    await Promise.all(this.servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    this.servers.length = 0;
  }
}
