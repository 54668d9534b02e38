// POP3 listeners: 110 (STLS) and 995 (implicit TLS) on the same store as IMAP.
import { createServer, type Server, type Socket } from "node:net";
import { createSecureContext, createServer as createTlsServer } from "node:tls";
import { POP3_LIMITS } from "../imap/proto/limits.js";
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
    const onSocket = (sock: Socket) => this.accept(sock, tls);
    const server = tls
      ? createTlsServer({ key: this.options.tls!.key, cert: this.options.tls!.cert }, onSocket)
      : createServer(onSocket);
    if (tls) server.on("tlsClientError", () => {});
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, host, () => {
        server.off("error", reject);
        resolve();
      });
    });
    this.servers.push(server);
    const addr = server.address();
    return typeof addr === "object" && addr ? addr.port : port;
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
