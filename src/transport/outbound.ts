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
  if (result.ok) {
    await svc.ts.transaction((trx) => svc.ts.complete(trx, job, now));
    return;
  }
  const expired = now - p.firstAt > svc.config.pec.giveUpHours * 3600_000;
  if (!result.permanent && !expired) throw new RetryLater(`${p.domain}: ${result.response}`);
  const mine = p.identificativo ? await svc.ts.getTransaction(p.identificativo) : null;
  const tx = mine?.tx as Transaction | undefined;
  const routed: Routed[] = [];
  if (tx && result.permanent) {
    for (const r of p.to)
      routed.push(
        await stored(
          svc,
          buildMancataConsegna(svc.build, tx, r, "other", "rifiutato dal server di destinazione"),
        ),
      );
  }
  await svc.ts.transaction(async (trx) => {
    if (tx && result.permanent)
      for (const r of p.to) await svc.ts.advanceRecipient(trx, tx.identificativo, r, "failed", now);
    await commitRouted(
      svc,
      trx,
      routed,
      [
        tx
          ? logOf(tx, "invio-fallito", `${p.what} a ${p.domain}: ${result.response}`.slice(0, 300), p.to)
          : {
              event: "invio-fallito",
              sender: p.from,
              recipients: p.to,
              outcome: `${p.what} a ${p.domain}`.slice(0, 300),
            },
      ],
      now,
    );
    await svc.ts.complete(trx, job, now, "failed", result.response.slice(0, 300));
  });
}
