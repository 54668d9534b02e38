// The PEC service's contribution to `domicilio serve`: "smtp" (MX) on listen.smtp, "submission"
// (STARTTLS) on listen.submission and "submissions" (implicit TLS) on listen.submissions, sharing one
// PecService and its queue worker, and the data folder's TLS certificate (DATA/tls, as IMAP uses).
import type { ListenerContext, ListenerFactory, RunningListener } from "../runtime/runtime.js";
import { SmtpListener, type SmtpRole } from "../smtp/server.js";
import { loadOrCreateServerCert } from "../tls/self-signed.js";
import { PecService, type PecServiceOptions } from "./service.js";

export function smtpListeners(options: PecServiceOptions = {}): ListenerFactory[] {
  let service: Promise<PecService> | null = null;
  let users = 0;
  const shared = (ctx: ListenerContext) => {
    service ??= (async () => {
      const s = await PecService.create(ctx.loaded, ctx.store, options);
      await s.start();
      return s;
    })();
    users++;
    return service;
  };
  const make = (role: SmtpRole): ListenerFactory => ({
    protocol: role,
    async start(ctx): Promise<RunningListener> {
      const s = await shared(ctx);
      const { config, dataDir } = ctx.loaded;
      const tls = await loadOrCreateServerCert(dataDir, config.provider.domain);
      const listener = new SmtpListener({
        role,
        name: config.smtp.hostname || config.provider.domain,
        tls,
        handlers: role === "smtp" ? s.mxHandlers() : s.submissionHandlers(),
        maxMessageBytes: config.smtp.maxMessageBytes,
        maxRecipients: config.smtp.maxRecipients,
        maxClients: config.smtp.maxClients,
        maxConnectionsPerIp: config.smtp.maxConnectionsPerIp,
        socketTimeoutMs: config.smtp.socketTimeoutSeconds * 1000,
      });
      const port = await listener.listen(config.listen[role], ctx.bind);
      return {
        protocol: role,
        host: ctx.bind,
        port,
        async stop() {
          await listener.close();
          users--;
          if (users === 0 && service) {
            const svc = await service;
            service = null;
            await svc.stop();
          }
        },
      };
    },
  });
  return [make("smtp"), make("submission"), make("submissions")];
}
