// POP3 listeners: 110 (STLS) and 995 (implicit TLS) on the same store as IMAP.
import type { Server, Socket } from "node:net";
import { createSecureContext } from "node:tls";
import { POP3_LIMITS } from "../imap/proto/limits.js";
import { listenSockets } from "../net/listen.js";
import type { MailStore } from "../store/mail-store.js";
import { type Pop3Context, Pop3Session } from "./session.js";

export interface Pop3ServerOptions {
  store: MailStore;
  tls: { key: string; cert: string } | null;
  limits?: Partial<typeof POP3_LIMITS>;
  log?: Pop3Context["log"];
}

export class Pop3Server {
  private readonly ctx: Pop3Context;
  private readonly servers: Server[] = [];
  private readonly sockets = new Set<Socket>();
  private readonly perIp = new Map<string, number>();

  constructor(private readonly options: Pop3ServerOptions) {
    this.ctx = {
      store: options.store,
      secureContext: options.tls ? createSecureContext(options.tls) : null,
      limits: { ...POP3_LIMITS, ...options.limits },
      log: options.log ?? { error() {} },
    };
  }

  async listen(port: number, host: string, tls: boolean): Promise<number> {
    const { server, port: bound } = await listenSockets({
      port,
      host,
      ...(tls ? { tls: this.options.tls! } : {}),
      onSocket: (sock) => this.accept(sock, tls),
    });
    this.servers.push(server);
    return bound;
  }

  private accept(sock: Socket, tls: boolean): void {
    sock.on("error", () => {});
    const ip = sock.remoteAddress ?? "?";
    const n = this.perIp.get(ip) ?? 0;
    if (n >= this.ctx.limits.maxConnectionsPerIp) {
      sock.end("-ERR [SYS/TEMP] Too many connections from your address\r\n");
      return;
    }
    this.perIp.set(ip, n + 1);
    this.sockets.add(sock);
    sock.once("close", () => {
      this.sockets.delete(sock);
      const left = (this.perIp.get(ip) ?? 1) - 1;
      if (left <= 0) this.perIp.delete(ip);
      else this.perIp.set(ip, left);
    });
    new Pop3Session(sock, this.ctx, tls).start();
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await Promise.all(this.servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    this.servers.length = 0;
  }
}
