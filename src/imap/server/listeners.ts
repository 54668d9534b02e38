// IMAP's contribution to `domicilio serve`: "imap" on listen.imap (STARTTLS) and "imaps" on listen.imaps
// (implicit TLS), sharing one ImapServer and the data folder's certificate (self-signed under DATA/tls/
// when none is configured).
import type { ListenerFactory, RunningListener } from "../../runtime/runtime.js";
import { loadOrCreateServerCert } from "../../tls/self-signed.js";
import { ImapServer } from "./server.js";

const stderrLog = {
  info() {},
  warn(obj: object, msg?: string) {
    console.error(`imap: ${msg ?? ""} ${JSON.stringify(obj)}`);
  },
  error(obj: object, msg?: string) {
    const err = (obj as { err?: Error }).err;
    console.error(`imap: ${msg ?? "error"} ${err?.stack ?? JSON.stringify(obj)}`);
  },
};

export function imapListeners(): ListenerFactory[] {
  let server: ImapServer | null = null;
  let users = 0;
  const shared = async (ctx: Parameters<ListenerFactory["start"]>[0]) => {
    if (!server) {
      const tls = await loadOrCreateServerCert(ctx.loaded.dataDir, ctx.loaded.config.provider.domain);
      server = new ImapServer({ store: ctx.store, tls, log: stderrLog });
    }
    users++;
    return server;
  };
  const make = (protocol: "imap" | "imaps"): ListenerFactory => ({
    protocol,
    async start(ctx): Promise<RunningListener> {
      const s = await shared(ctx);
      const port = ctx.loaded.config.listen[protocol];
      const bound = await s.listen(port, ctx.bind, protocol === "imaps");
      return {
        protocol,
        host: ctx.bind,
        port: bound,
        async stop() {
          users--;
          if (users === 0 && server) {
            await server.close();
            server = null;
          }
        },
      };
    },
  });
  return [make("imap"), make("imaps")];
}
