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
  if (result.ok && result.rejected.length === 0) {
    await svc.ts.transaction((trx) => svc.ts.complete(trx, job, now));
    return;
  }
  const expired = now - p.firstAt > svc.config.pec.giveUpHours * 3600_000;
  if (!result.ok && !result.permanent && !expired) throw new RetryLater(`${p.domain}: ${result.response}`);
  // Refused for good: all recipients, or those the server refused while taking the others.
  const failed = result.ok ? p.to.filter((r) => result.rejected.includes(r.toLowerCase())) : p.to;
  const mine = p.identificativo ? await svc.ts.getTransaction(p.identificativo) : null;
  const tx = mine?.tx as Transaction | undefined;
  const permanent = result.ok || result.permanent;
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
    await commitRouted(
      svc,
      trx,
      routed,
      [
        tx
          ? logOf(tx, "invio-fallito", `${p.what} a ${p.domain}: ${result.response}`.slice(0, 300), failed)
          : {
              event: "invio-fallito",
              sender: p.from,
              recipients: failed,
              outcome: `${p.what} a ${p.domain}`.slice(0, 300),
            },
      ],
      now,
    );
    await svc.ts.complete(
      trx,
      job,
      now,
      result.ok ? "done" : "failed",
      result.ok ? undefined : result.response.slice(0, 300),
    );
  });
}
