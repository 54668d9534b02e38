// POP3's contribution to `domicilio serve`: "pop3" on listen.pop3 (STLS) and "pop3s" on listen.pop3s.
import type { ListenerFactory, RunningListener } from "../runtime/runtime.js";
import { loadOrCreateServerCert } from "../tls/self-signed.js";
import { Pop3Server } from "./server.js";

export function pop3Listeners(): ListenerFactory[] {
  let server: Pop3Server | null = null;
  let users = 0;
  const make = (protocol: "pop3" | "pop3s"): ListenerFactory => ({
    protocol,
    async start(ctx): Promise<RunningListener> {
      if (!server) {
        const tls = await loadOrCreateServerCert(ctx.loaded.dataDir, ctx.loaded.config.provider.domain);
        server = new Pop3Server({
          store: ctx.store,
          tls,
          log: {
            error: (obj, msg) =>
              console.error(`pop3: ${msg ?? "error"} ${(obj as { err?: Error }).err?.stack ?? ""}`),
          },
        });
      }
      users++;
      const port = await server.listen(ctx.loaded.config.listen[protocol], ctx.bind, protocol === "pop3s");
      return {
        protocol,
        host: ctx.bind,
        port,
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
  return [make("pop3"), make("pop3s")];
}
