// The time limits (pec-rules.md "Time limits", RFC 6109 §3.4): for every certified recipient the access
// point queued two timer jobs in the database — preavviso at 12 h, final non-delivery at 22-24 h. Each
// fires once (a job finishes in the transaction of its effect) and does nothing when the recipient's
// state already says what happened.
import { buildMancataConsegna, buildPreavviso, type Transaction } from "../pec/builders.js";
import type { Job } from "../store/transport-store.js";
import { commitRouted, logOf, type ServiceContext, stored } from "./context.js";

export interface TimerPayload {
  identificativo: string;
  rcpt: string;
  stage: "preavviso" | "final";
}

export async function handleTimer(svc: ServiceContext, job: Job): Promise<void> {
  const p = job.payload as TimerPayload;
  const now = svc.clock().getTime();
  const mine = await svc.ts.getTransaction(p.identificativo);
  const state = (await svc.ts.recipients(p.identificativo)).find((r) => r.address === p.rcpt)?.state;
  const tx = mine?.tx as Transaction | undefined;
  // preavviso: neither presa in carico nor delivery; final: still no delivery receipt.
  const due = p.stage === "preavviso" ? state === "pending" : state === "pending" || state === "taken";
  if (!tx || !due) {
    await svc.ts.transaction((trx) => svc.ts.complete(trx, job, now));
    return;
  }
  const built =
    p.stage === "preavviso"
      ? await buildPreavviso(svc.build, tx, p.rcpt)
      : await buildMancataConsegna(svc.build, tx, p.rcpt, "timeout", `${svc.config.pec.finalHours} ore`);
  const routed = await stored(svc, built);
  await svc.ts.transaction(async (trx) => {
    if (p.stage === "final") await svc.ts.advanceRecipient(trx, p.identificativo, p.rcpt, "failed", now);
    await commitRouted(
      svc,
      trx,
      [routed],
      [
        logOf(tx, p.stage === "preavviso" ? "preavviso" : "mancata-consegna", "tempo massimo superato", [
          p.rcpt,
        ]),
      ],
      now,
    );
    await svc.ts.complete(trx, job, now);
  });
}
