// Prometheus metrics of one process: Node's defaults plus what the store knows.
import { collectDefaultMetrics, Gauge, Registry } from "prom-client";
import type { MailStore } from "../store/mail-store.js";
import type { SqlMailStore } from "../store/sql-mail-store.js";

export function createMetrics(store: MailStore): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "domicilio_" });
  new Gauge({
    name: "domicilio_mailboxes",
    help: "PEC boxes by state",
    labelNames: ["state"],
    registers: [registry],
    async collect() {
      const counts = new Map<string, number>([
        ["waiting-first-access", 0],
        ["active", 0],
        ["deactivated", 0],
      ]);
      for (const box of await store.listMailboxes()) counts.set(box.state, (counts.get(box.state) ?? 0) + 1);
      for (const [state, n] of counts) this.set({ state }, n);
    },
  });
  if ("transport" in store && typeof store.transport === "function") {
    const ts = (store as SqlMailStore).transport();
    new Gauge({
      name: "domicilio_pec_jobs",
      help: "PEC queue jobs by kind and state (submit, deliver, send, timer, …)",
      labelNames: ["kind", "state"],
      registers: [registry],
      async collect() {
        this.reset();
        for (const c of await ts.counts()) this.set({ kind: c.kind, state: c.state }, c.n);
      },
    });
  }
  return registry;
}
