// One Domicilio process: opens the store and starts every listener of the configuration, printing
// `listening <protocol> <host>:<port>` for each (contract.md), and stops them all on request. Listeners
// are started in order; if one fails to start, those already up are stopped and the error is raised.
import type { AddressInfo } from "node:net";
import type { LoadedConfig } from "../config/load.js";
import { buildHttpApp } from "../http/app.js";
import { imapListeners } from "../imap/server/listeners.js";
import { pop3Listeners } from "../pop3/listeners.js";
import { openStore } from "../store/open.js";
import type { SqlMailStore } from "../store/sql-mail-store.js";
import { smtpListeners } from "../transport/listeners.js";
import { createMetrics } from "./metrics.js";

export interface RunningListener {
  protocol: string;
  host: string;
  port: number;
  stop(): Promise<void>;
}

export interface ListenerContext {
  loaded: LoadedConfig;
  store: SqlMailStore;
  bind: string;
}

/** A listener a protocol module contributes: started after the store is open. */
export interface ListenerFactory {
  protocol: string;
  start(ctx: ListenerContext): Promise<RunningListener>;
}

export interface Runtime {
  store: SqlMailStore;
  listeners: RunningListener[];
  stop(): Promise<void>;
}

export function httpListener(healthy: () => boolean): ListenerFactory {
  return {
    protocol: "http",
    async start({ loaded, store, bind }) {
      const app = buildHttpApp({ healthy, metrics: createMetrics(store) });
      await app.listen({ host: bind, port: loaded.config.listen.http });
      const addr = app.server.address() as AddressInfo;
      return { protocol: "http", host: bind, port: addr.port, stop: () => app.close() };
    },
  };
}

export async function startRuntime(
  loaded: LoadedConfig,
  options: { log?: (line: string) => void; extraListeners?: ListenerFactory[] } = {},
): Promise<Runtime> {
  const log = options.log ?? ((line: string) => console.log(line));
  const store = await openStore({ dataDir: loaded.dataDir, config: loaded.config });
  // Other processes (a migration run, a CLI command, another node) write to the same store.
  const stopFollowing = await store.followExternalChanges();
  const listeners: RunningListener[] = [];
  let allUp = false;
  // HTTP comes last: once `listening http …` is printed every other listener is up, so /healthz
  // answers 200 from its first request (contract.md: 200 when every listener is up).
  const factories: ListenerFactory[] = [
    ...imapListeners(),
    ...pop3Listeners(),
    ...smtpListeners(),
    ...(options.extraListeners ?? []),
    httpListener(() => allUp),
  ];
  const ctx: ListenerContext = { loaded, store, bind: loaded.config.listen.bind };
  const stop = async () => {
    allUp = false;
    for (const l of listeners.reverse()) {
      await l.stop().catch(() => undefined);
    }
    listeners.length = 0;
    stopFollowing();
    await store.close();
  };
  try {
    for (const factory of factories) {
      const l = await factory.start(ctx);
      listeners.push(l);
      if (listeners.length === factories.length) allUp = true;
      log(`listening ${l.protocol} ${l.host}:${l.port}`);
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { store, listeners: [...listeners], stop };
}
