// The incoming point (pec-rules.md "Roles", RFC 6109 §3.2): what other servers send to our MX.
// - A valid envelope (signature intact, signer in the providers' index, daticert present): ricevuta di
//   presa in carico to the sender's provider (its mailReceipt), then the delivery point per recipient; a
//   virus → rilevazione virus to the sender's provider, nothing delivered, the message kept apart.
// - A valid receipt for one of our members: into their box, and the recipient's state moves on (taken,
//   delivered, failed) so the timers know. Receipts addressed to our posta-certificata@ go to `system`.
// - Anything else (ordinary mail, broken or unknown signature): the box's policy — refuse (at SMTP time),
//   accept in a busta di anomalia, or forward to the member's ordinary address.
import {
  buildBustaAnomalia,
  buildMancataConsegna,
  buildPresaInCarico,
  buildRilevazioneVirus,
  transactionFromDaticert,
} from "../pec/builders.js";
import { assessIncoming, type IncomingVerdict } from "../pec/incoming.js";
import type { AnyTx, Job, LogEntryInput, NewJob } from "../store/transport-store.js";
import type { Mailbox } from "../store/types.js";
import {
  commitRouted,
  domainOf,
  isLocal,
  isSystem,
  logOf,
  MONTH_MS,
  type Routed,
  routeJobs,
  type ServiceContext,
  stored,
} from "./context.js";
import { headerAddresses, headerText } from "./headers.js";

export interface IncomingPayload {
  blobId: string;
  mailFrom: string;
  rcptTo: string[];
}

export type Policy = "refuse" | "accept" | "forward";

function policyOf(box: Mailbox): Policy {
  const p = box.settings.ordinaryMail;
  if (p === "forward" && !box.settings.forwardTo) return "refuse";
  return p === "accept" || p === "forward" ? p : "refuse";
}

/**
 * Whether a recipient takes ordinary (not valid PEC) mail: an existing, open box whose policy is accept
 * or forward. The MX keeps one SMTP transaction to recipients that all do or all do not (service.ts).
 */
export async function takesOrdinaryMail(svc: ServiceContext, address: string): Promise<boolean> {
  if (isSystem(svc, address)) return false;
  const box = await svc.store.getMailbox(address);
  return Boolean(box && box.state !== "deactivated" && policyOf(box) !== "refuse");
}

/**
 * The decision the MX must give before answering DATA: which recipients take the message. Valid PEC is
 * taken for every recipient of our domains (the delivery point answers for unknown boxes with a notice);
 * anything else only for existing boxes whose policy is not refuse.
 */
export async function mxAccepts(
  svc: ServiceContext,
  raw: Buffer,
  rcptTo: string[],
): Promise<{ valid: boolean; accepted: string[]; verdict: IncomingVerdict }> {
  const verdict = assessIncoming(raw, svc.index);
  if (verdict.valid) return { valid: true, accepted: rcptTo, verdict };
  const accepted: string[] = [];
  for (const r of rcptTo) if (await takesOrdinaryMail(svc, r)) accepted.push(r);
  return { valid: false, accepted, verdict };
}

function anomalyLog(raw: Buffer, mailFrom: string, rcpts: string[], outcome: string): LogEntryInput {
  return {
    event: "anomalia",
    msgid: headerAddresses(raw, "message-id")[0] ?? headerText(raw, "message-id"),
    sender: headerAddresses(raw, "from")[0] ?? mailFrom,
    recipients: rcpts,
    subject: headerText(raw, "subject"),
    outcome,
  };
}

export async function handleIncoming(svc: ServiceContext, job: Job): Promise<void> {
  const p = job.payload as IncomingPayload;
  const raw = await svc.store.blobs.get(p.blobId);
  const now = svc.clock().getTime();
  const rcpts = [...new Set(p.rcptTo.map((r) => r.toLowerCase()))];
  const { valid, accepted, verdict } = await mxAccepts(svc, raw, rcpts);
  const d = verdict.reading.daticert;

  if (valid && verdict.reading.pec === "posta-certificata" && d) {
    const tx = transactionFromDaticert(d);
    const mailReceipt = verdict.provider?.mailReceipt ?? null;
    const boxes = rcpts.filter((r) => !isSystem(svc, r) && isLocal(svc, r));
    const scan = svc.scanner ? await svc.scanner.scan(raw) : null;
    if (scan?.infected) {
      // RFC 6109 §3.3.1: not delivered, rilevazione virus to the sender's provider, kept 30 months.
      const notice = mailReceipt
        ? [await stored(svc, await buildRilevazioneVirus(svc.build, tx, mailReceipt, scan.virus ?? "virus"))]
        : [];
      await svc.ts.transaction(async (trx) => {
        await svc.ts.quarantine(
          trx,
          {
            blobId: p.blobId,
            identificativo: tx.identificativo,
            reason: `incoming point: ${scan.virus}`,
            keepUntil: now + svc.config.pec.logRetentionMonths * MONTH_MS,
          },
          now,
        );
        await commitRouted(
          svc,
          trx,
          notice,
          [logOf(tx, "virus", `rilevazione virus: ${scan.virus}`, boxes)],
          now,
        );
        await svc.ts.complete(trx, job, now);
      });
      return;
    }
    const deliverKey = (r: string) => `deliver:${tx.identificativo}:${r}`;
    // The same envelope again (the other provider lost our 250 and retried): its recipients are delivered
    // once by the job keys, and the sender's provider must not hear a second presa in carico for them.
    const known = await svc.ts.existingKeys(boxes.map(deliverKey));
    const fresh = boxes.filter((r) => !known.has(deliverKey(r)));
    const routed: Routed[] = [];
    if (mailReceipt && fresh.length > 0)
      routed.push(await stored(svc, await buildPresaInCarico(svc.build, tx, mailReceipt, fresh)));
    const jobs: NewJob[] = fresh.map((r) => ({
      kind: "deliver",
      key: deliverKey(r),
      payload: { identificativo: tx.identificativo, envelopeBlobId: p.blobId, rcpt: r, origin: "remote" },
      runAt: now,
    }));
    await svc.ts.transaction(async (trx) => {
      // Decided where it counts: by the keys this commit adds. A copy handled meanwhile by another job
      // has taken them (on PostgreSQL this insert waits for that job's commit rather than missing it).
      const added = await svc.ts.enqueue(trx, jobs, now);
      const repeat = boxes.length > 0 && added.length === 0;
      const log = repeat
        ? [logOf(tx, "busta-ripetuta", "busta ricevuta di nuovo: già presa in carico", boxes)]
        : [logOf(tx, "presa-in-carico", "preso in carico", fresh)];
      await commitRouted(svc, trx, repeat ? [] : routed, log, now);
      await svc.ts.complete(trx, job, now);
    });
    return;
  }

  if (valid && d) {
    // A receipt or notice of another provider: into the boxes it is for; its effect on our transaction.
    const jobs: NewJob[] = routeJobs(
      svc,
      {
        blobId: p.blobId,
        from: p.mailFrom,
        recipients: rcpts,
        pecId: d.identificativo,
        what: verdict.reading.pec ?? "pec",
      },
      now,
    );
    // Receipts for our posta-certificata@ take effect in the `system` job they are routed to.
    const mine = rcpts.some((r) => isSystem(svc, r)) ? null : await svc.ts.getTransaction(d.identificativo);
    await svc.ts.transaction(async (trx) => {
      await receiptEffects(svc, trx, verdict, mine, now);
      await svc.ts.enqueue(trx, jobs, now);
      await svc.ts.complete(trx, job, now);
    });
    return;
  }

  if (valid) {
    // A busta di anomalia of another provider (no daticert by definition): delivered as it is.
    const jobs = routeJobs(
      svc,
      { blobId: p.blobId, from: p.mailFrom, recipients: rcpts, pecId: null, what: "errore" },
      now,
    );
    await svc.ts.transaction(async (trx) => {
      await svc.ts.enqueue(trx, jobs, now);
      await svc.ts.complete(trx, job, now);
    });
    return;
  }

  // Not valid PEC: each box's policy.
  const acceptNow: string[] = [];
  const forwards: NewJob[] = [];
  const refused: string[] = [];
  for (const r of rcpts) {
    const box = accepted.includes(r) ? await svc.store.getMailbox(r) : null;
    const policy = box ? policyOf(box) : "refuse";
    if (!box || policy === "refuse") refused.push(r);
    else if (policy === "accept") acceptNow.push(r);
    else {
      const to = box.settings.forwardTo!;
      forwards.push({
        kind: "send",
        key: `send:${p.blobId}:fwd:${box.id}`,
        payload: {
          blobId: p.blobId,
          from: p.mailFrom,
          to: [to],
          domain: domainOf(to),
          firstAt: now,
          what: "inoltro",
        },
        runAt: now,
      });
    }
  }
  const routed: Routed[] = [];
  if (acceptNow.length > 0)
    routed.push(await stored(svc, await buildBustaAnomalia(svc.build, raw, acceptNow)));
  const why = verdict.reason ?? "non PEC";
  await svc.ts.transaction(async (trx) => {
    await svc.ts.enqueue(trx, forwards, now);
    const log: LogEntryInput[] = [];
    if (acceptNow.length) log.push(anomalyLog(raw, p.mailFrom, acceptNow, `busta di anomalia (${why})`));
    if (forwards.length)
      log.push(
        anomalyLog(
          raw,
          p.mailFrom,
          rcpts.filter((r) => !acceptNow.includes(r) && !refused.includes(r)),
          `inoltrato (${why})`,
        ),
      );
    if (refused.length) log.push(anomalyLog(raw, p.mailFrom, refused, `rifiutato (${why})`));
    await commitRouted(svc, trx, routed, log, now);
    await svc.ts.complete(trx, job, now);
  });
}

/**
 * What a valid receipt of another provider means for a transaction of ours (`mine`, read before the
 * transaction: SQLite has one connection, a read outside `trx` inside it would wait for ever).
 */
async function receiptEffects(
  svc: ServiceContext,
  trx: AnyTx,
  verdict: IncomingVerdict,
  mine: { tx: unknown } | null,
  now: number,
) {
  const d = verdict.reading.daticert;
  if (!d || !mine) return;
  const tx = mine.tx as ReturnType<typeof transactionFromDaticert>;
  const type = verdict.reading.pec;
  const log: LogEntryInput[] = [];
  if (type === "avvenuta-consegna" && d.consegna) {
    await svc.ts.advanceRecipient(trx, d.identificativo, d.consegna, "delivered", now);
    log.push(logOf(tx, "ricevuta-consegna", `consegnato da ${d.gestoreEmittente}`, [d.consegna]));
  } else if (type === "errore-consegna" && d.consegna) {
    await svc.ts.advanceRecipient(trx, d.identificativo, d.consegna, "failed", now);
    log.push(
      logOf(tx, "mancata-consegna", `${d.erroreEsteso ?? d.errore} (${d.gestoreEmittente})`, [d.consegna]),
    );
  } else if (type === "presa-in-carico") {
    for (const r of d.ricezione) await svc.ts.advanceRecipient(trx, d.identificativo, r, "taken", now);
    log.push(logOf(tx, "presa-in-carico", `preso in carico da ${d.gestoreEmittente}`, d.ricezione));
  }
  await svc.ts.appendLog(trx, log, now);
}

/** A receipt addressed to our posta-certificata@ (presa in carico, rilevazione virus). */
export async function handleSystem(svc: ServiceContext, job: Job): Promise<void> {
  const p = job.payload as { blobId: string };
  const raw = await svc.store.blobs.get(p.blobId);
  const now = svc.clock().getTime();
  const verdict = assessIncoming(raw, svc.index);
  const d = verdict.reading.daticert;
  const mine = d ? await svc.ts.getTransaction(d.identificativo) : null;
  const routed: Routed[] = [];
  const failed: string[] = [];
  if (verdict.valid && d && mine && verdict.reading.pec === "rilevazione-virus") {
    // RFC 6109 §3.3.2: the sender's provider turns it into an avviso di mancata consegna per virus for
    // every recipient the signing provider serves that has no outcome yet.
    const tx = mine.tx as ReturnType<typeof transactionFromDaticert>;
    const domains = new Set(verdict.provider?.domains ?? []);
    for (const r of await svc.ts.recipients(d.identificativo)) {
      if (!domains.has(domainOf(r.address)) || (r.state !== "pending" && r.state !== "taken")) continue;
      routed.push(
        await stored(
          svc,
          await buildMancataConsegna(svc.build, tx, r.address, "virus", d.erroreEsteso ?? undefined),
        ),
      );
      failed.push(r.address);
    }
  }
  await svc.ts.transaction(async (trx) => {
    if (verdict.valid) await receiptEffects(svc, trx, verdict, mine, now);
    for (const r of failed) await svc.ts.advanceRecipient(trx, d!.identificativo, r, "failed", now);
    const tx = mine?.tx as ReturnType<typeof transactionFromDaticert> | undefined;
    await commitRouted(
      svc,
      trx,
      routed,
      tx && failed.length ? [logOf(tx, "virus", "mancata consegna per virus", failed)] : [],
      now,
    );
    await svc.ts.complete(trx, job, now);
  });
}
