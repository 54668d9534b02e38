// What every part of the PEC service shares: the store and its transport tables, the providers' index,
// the build context (signing key, clock, randomness), the outbound sender and the scanner; and the one
// routing rule every built message follows (local box → `store` job, other domain → `send` job).
import type { Config } from "../config/schema.js";
import type { BuildThread } from "../pec/build-thread.js";
import type { BuildContext, BuiltPec, Transaction } from "../pec/builders.js";
import type { ProviderKeys } from "../pec/provider-keys.js";
import type { ProvidersIndex } from "../pec/providers-index.js";
import type { SmtpSender } from "../smtp/client.js";
import type { MessageBytes } from "../store/message-bytes.js";
import type { SqlMailStore } from "../store/sql-mail-store.js";
import type { AnyTx, LogEntryInput, NewJob, TransportStore } from "../store/transport-store.js";
import type { Scanner } from "./antivirus.js";
import type { Clock } from "./clock.js";

export interface ServiceContext {
  store: SqlMailStore;
  ts: TransportStore;
  index: ProvidersIndex;
  build: BuildContext;
  /** the acceptance, envelope and delivery receipts of a submission, built off the event loop */
  builds: BuildThread;
  keys: ProviderKeys;
  config: Config;
  clock: Clock;
  sender: SmtpSender;
  scanner: Scanner | null;
  /** mail domains whose boxes live here */
  hosted: () => Set<string>;
  /** posta-certificata@<provider domain> */
  systemAddress: string;
  /** new jobs were committed: look at the queue now */
  wake(): void;
  warn(message: string, err?: unknown): void;
}

export const MONTH_MS = 30 * 86400_000;

export function domainOf(address: string): string {
  return address.slice(address.lastIndexOf("@") + 1).toLowerCase();
}

export function isLocal(svc: ServiceContext, address: string): boolean {
  return svc.hosted().has(domainOf(address));
}

/** The provider's own address for receipts: never a box. */
export function isSystem(svc: ServiceContext, address: string): boolean {
  return address.toLowerCase() === svc.systemAddress;
}

export interface Routed {
  blobId: string;
  /** reverse-path when it leaves by SMTP */
  from: string;
  recipients: string[];
  pecId: string | null;
  /** label for the queue */
  what: string;
  /** writes the bytes when they live in the database: inside the transaction that routes them */
  write?: (trx: AnyTx) => Promise<void>;
}

/** Jobs that take a stored message to its recipients: one append per local box, one send per domain. */
export function routeJobs(svc: ServiceContext, m: Routed, now: number, extra: Record<string, unknown> = {}) {
  const jobs: NewJob[] = [];
  const remote = new Map<string, string[]>();
  for (const r of [...new Set(m.recipients.map((x) => x.toLowerCase()))]) {
    if (isSystem(svc, r)) {
      jobs.push({ kind: "system", key: `system:${m.blobId}`, payload: { blobId: m.blobId }, runAt: now });
    } else if (isLocal(svc, r)) {
      jobs.push({
        kind: "store",
        key: `store:${m.blobId}:${r}`,
        payload: { blobId: m.blobId, address: r, pecId: m.pecId, what: m.what },
        runAt: now,
      });
    } else {
      const d = domainOf(r);
      remote.set(d, [...(remote.get(d) ?? []), r]);
    }
  }
  for (const [domain, to] of remote) {
    jobs.push({
      kind: "send",
      key: `send:${m.blobId}:${domain}`,
      payload: { blobId: m.blobId, from: m.from, to, domain, firstAt: now, what: m.what, ...extra },
      runAt: now,
    });
  }
  return jobs;
}

/**
 * Stages a built message's bytes and returns its routing: a large message is a durable file already, a
 * small one is written by `commitRouted` in the transaction that routes it (durable with its jobs).
 */
/** A built message's bytes for the store, with their sha-256 when the build thread computed it. */
export function bytesOf(built: BuiltPec): MessageBytes {
  const { raw, sha256 } = built;
  return sha256 === undefined ? raw : { chunks: [raw], size: raw.length, sha256 };
}

export async function stored(
  svc: ServiceContext,
  built: BuiltPec,
  from = svc.systemAddress,
): Promise<Routed> {
  const { refs, write } = await svc.store.stageBlobs([bytesOf(built)]);
  return {
    blobId: refs[0]!.id,
    from,
    recipients: built.recipients,
    pecId: built.identificativo,
    what: built.type,
    write,
  };
}

export async function commitRouted(
  svc: ServiceContext,
  trx: AnyTx,
  routed: Routed[],
  log: LogEntryInput[],
  now: number,
): Promise<void> {
  for (const r of routed) await r.write?.(trx);
  const jobs = routed.flatMap((r) => routeJobs(svc, r, now));
  await svc.ts.enqueue(trx, jobs, now);
  await svc.ts.appendLog(trx, log, now);
}

export function logOf(tx: Transaction, event: string, outcome: string, recipients?: string[]): LogEntryInput {
  return {
    event,
    identificativo: tx.identificativo,
    msgid: tx.originalMessageId,
    sender: tx.mittente,
    recipients: recipients ?? tx.destinatari.map((d) => d.indirizzo),
    subject: tx.oggetto,
    outcome,
  };
}
