// Sending to other servers: the `send` job hands a stored message to the destination's MX (or its
// DOMICILIO_ROUTES entry), retrying with exponential backoff until `pec.giveUpHours`. A certified
// envelope refused for good turns into an avviso di mancata consegna per recipient.
import { buildMancataConsegna, type Transaction } from "../pec/builders.js";
import type { Job } from "../store/transport-store.js";
import { commitRouted, logOf, type Routed, type ServiceContext, stored } from "./context.js";

export interface SendPayload {
  blobId: string;
  from: string;
  to: string[];
  domain: string;
  firstAt: number;
  what: string;
  /** set for envelopes of our transactions */
  identificativo?: string;
  /** how many times recipients of this message were deferred at RCPT (the backoff of the next try) */
  deferrals?: number;
}

export class RetryLater extends Error {
  override name = "RetryLater";
}

/** Backoff of attempt n (1-based): 15 s, 30 s, 1 min … up to retryMaxMinutes. */
export function backoffMs(attempt: number, maxMinutes: number): number {
  return Math.min(15_000 * 2 ** Math.max(0, attempt - 1), maxMinutes * 60_000);
}

export async function handleSend(svc: ServiceContext, job: Job): Promise<void> {
  const p = job.payload as SendPayload;
  const raw = await svc.store.blobs.get(p.blobId);
  const result = await svc.sender.send(p.domain, { from: p.from, to: p.to }, raw);
  const now = svc.clock().getTime();
  const perRecipient = result.rejected.length + result.deferred.length > 0;
  if (result.ok && !perRecipient) {
    await svc.ts.transaction((trx) => svc.ts.complete(trx, job, now));
    return;
  }
  const expired = now - p.firstAt > svc.config.pec.giveUpHours * 3600_000;
  if (!perRecipient && !result.permanent && !expired) throw new RetryLater(`${p.domain}: ${result.response}`);
  const refused = (list: string[]) => p.to.filter((r) => list.includes(r.toLowerCase()));
  // Refused for good: all recipients, or those the server refused one by one with a 5xx.
  const failed = perRecipient ? refused(result.rejected) : p.to;
  // Refused for now, one by one (a 4xx at RCPT): sent again by a job of their own, with backoff, until
  // pec.giveUpHours; then, like any delivery not made, the recipient's timers tell the sender.
  const later = perRecipient && !expired ? refused(result.deferred) : [];
  const deferrals = (p.deferrals ?? 0) + 1;
  const retryJobs = later.length
    ? [
        {
          kind: "send",
          key: `${job.key}:later:${deferrals}`,
          payload: { ...p, to: later, deferrals } satisfies SendPayload,
          runAt: now + backoffMs(deferrals, svc.config.pec.retryMaxMinutes),
        },
      ]
    : [];
  const mine = p.identificativo ? await svc.ts.getTransaction(p.identificativo) : null;
  const tx = mine?.tx as Transaction | undefined;
  const permanent = perRecipient || result.permanent;
  const routed: Routed[] = [];
  if (tx && permanent) {
    for (const r of failed)
      routed.push(
        await stored(
          svc,
          await buildMancataConsegna(svc.build, tx, r, "other", "rifiutato dal server di destinazione"),
        ),
      );
  }
  await svc.ts.transaction(async (trx) => {
    if (tx && permanent)
      for (const r of failed) await svc.ts.advanceRecipient(trx, tx.identificativo, r, "failed", now);
    await svc.ts.enqueue(trx, retryJobs, now);
    const entry = (event: string, recipients: string[], outcome: string) =>
      tx
        ? logOf(tx, event, outcome.slice(0, 300), recipients)
        : { event, sender: p.from, recipients, outcome: outcome.slice(0, 300) };
    // Deferred past pec.giveUpHours: not sent, and logged with those refused for good.
    const gaveUp = [...failed, ...(perRecipient && expired ? refused(result.deferred) : [])];
    await commitRouted(
      svc,
      trx,
      routed,
      [
        ...(gaveUp.length || !perRecipient
          ? [entry("invio-fallito", gaveUp, `${p.what} a ${p.domain}: ${result.response}`)]
          : []),
        ...(later.length
          ? [entry("invio-differito", later, `${p.what} a ${p.domain}: ${result.response}`)]
          : []),
      ],
      now,
    );
    await svc.ts.complete(
      trx,
      job,
      now,
      result.ok || perRecipient ? "done" : "failed",
      result.ok || perRecipient ? undefined : result.response.slice(0, 300),
    );
  });
}
