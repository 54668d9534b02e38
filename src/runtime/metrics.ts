// Prometheus metrics of one process: Node's defaults plus what the store knows.
import { collectDefaultMetrics, Gauge, Registry } from "prom-client";
import type { MailStore } from "../store/mail-store.js";

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
  return registry;
}
