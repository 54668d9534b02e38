// The HTTP listener: health and metrics now; webmail, console, API and autoconfig plug in here.
import Fastify, { type FastifyInstance } from "fastify";
import type { Registry } from "prom-client";

export interface HttpAppOptions {
  /** True when every listener of the process is up (contract.md: /healthz answers 200 only then). */
  healthy: () => boolean;
  metrics: Registry;
}

export function buildHttpApp(options: HttpAppOptions): FastifyInstance {
  const app = Fastify({ logger: false, bodyLimit: 1024 * 1024 });
  app.get("/healthz", async (_req, reply) => {
    const ok = options.healthy();
    return reply.code(ok ? 200 : 503).send({ status: ok ? "ok" : "starting" });
  });
  app.get("/metrics", async (_req, reply) => {
    return reply.type(options.metrics.contentType).send(await options.metrics.metrics());
  });
  return app;
}
