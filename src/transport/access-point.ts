// The access point (pec-rules.md "Roles", RFC 6109 §3.1.1): a member's submission, already durably
// queued by the SMTP listener, is checked formally; pass → ricevuta di accettazione to the sender and the
// busta di trasporto to every recipient (local boxes through the delivery point, other domains by SMTP),
// with the 12 h / 24 h timers for certified recipients; fail → avviso di non accettazione, nothing travels.
import { type BuiltPec, buildNonAccettazione, openTransaction, type Transaction } from "../pec/builders.js";
import { newMessageId } from "../pec/identificativo.js";
import type { MessageBytes } from "../store/message-bytes.js";
import type { AnyTx, Job, NewJob } from "../store/transport-store.js";
import { type Folder, type Mailbox, StoreError } from "../store/types.js";
import {
  bytesOf,
  commitRouted,
  domainOf,
  isLocal,
  logOf,
  MONTH_MS,
  type Routed,
  routeJobs,
  type ServiceContext,
  stored,
} from "./context.js";
import { causeFor, notifyJobs } from "./delivery-point.js";
import { headerAddresses, headerValues } from "./headers.js";

export interface SubmitPayload {
  identificativo: string;
  blobId: string;
  mailFrom: string;
  rcptTo: string[];
  user: string;
}

/** The formal checks of the rules, in order; the first failure is the reason given to the sender. */
export function formalProblem(
  raw: Buffer,
  p: Pick<SubmitPayload, "mailFrom" | "rcptTo" | "user">,
  maxTotalBytes: number,
): string | null {
  const from = headerAddresses(raw, "from");
  const user = p.user.toLowerCase();
  if (from.length !== 1) return "il campo From deve contenere un solo indirizzo";
  if (from[0] !== user) return "il mittente (From) non corrisponde alla casella autenticata";
  if (p.mailFrom.toLowerCase() !== user) return "il mittente della busta SMTP non corrisponde alla casella";
  const to = headerAddresses(raw, "to");
  if (to.length === 0) return "nessun destinatario nel campo To";
  if (headerValues(raw, "bcc").some((v) => v.trim() !== ""))
    return "destinatari in copia nascosta (Bcc) non ammessi";
  const visible = new Set([...to, ...headerAddresses(raw, "cc")]);
  for (const r of p.rcptTo)
    if (!visible.has(r.toLowerCase())) return `il destinatario ${r} non compare nei campi To o Cc`;
  if (raw.length * p.rcptTo.length > maxTotalBytes)
    return "dimensione del messaggio per numero di destinatari oltre il limite";
  return null;
}

/** A transaction to write the notice about when the original cannot even be read. */
function fallbackTransaction(
  svc: ServiceContext,
  p: Omit<SubmitPayload, "blobId">,
  raw: Buffer,
): Transaction {
  const subject = headerValues(raw, "subject")[0] ?? "";
  const msgId = /<[^<>\s]+>/.exec(headerValues(raw, "message-id")[0] ?? "")?.[0];
  return {
    identificativo: p.identificativo,
    originalMessageId: msgId ?? newMessageId(svc.build.provider.domain, svc.clock(), svc.build.random),
    mittente: p.user,
    to: [],
    cc: [],
    destinatari: p.rcptTo.map((r) => ({ tipo: svc.index.classify(r), indirizzo: r })),
    risposte: p.user,
    oggetto: subject.replace(/[\r\n]+/g, " ").trim(),
    ricevuta: "completa",
  };
}

export async function handleSubmit(svc: ServiceContext, job: Job): Promise<void> {
  const p = job.payload as SubmitPayload;
  // Accepted already: the session's own commit landed although the session could not tell (a commit
  // whose outcome was lost with its connection, service.ts acceptNow) and queued the message. Only an
  // acceptance writes the transaction row, in the commit of everything it did: nothing is left to do.
  if (await svc.ts.getTransaction(p.identificativo)) {
    await svc.ts.transaction((trx) => svc.ts.complete(trx, job, svc.clock().getTime()));
    return;
  }
  await processSubmission(svc, p, await svc.store.blobs.get(p.blobId), job);
}

/**
 * The access point's work done inside the SMTP session, before its 250: a submission that passes the
 * checks is accepted, enveloped and routed (local recipients delivered) in one commit, with no `submit`
 * job, no stored copy of the submission and no second transaction to claim and finish that job. Returns
 * false, having written nothing, when the message takes the queued path instead: a failed formal check
 * or a virus (whose notice and quarantine the job writes). Either way the 250 follows a durable commit,
 * and a crash before it leaves nothing (pec-rules.md "Access point", RFC 6109 §3.1.1).
 */
export async function acceptNow(
  svc: ServiceContext,
  p: Omit<SubmitPayload, "blobId">,
  raw: Buffer,
): Promise<boolean> {
  return processSubmission(svc, p, raw, null);
}

async function processSubmission(
  svc: ServiceContext,
  p: Omit<SubmitPayload, "blobId"> & { blobId?: string },
  raw: Buffer,
  job: Job | null,
): Promise<boolean> {
  const now = svc.clock().getTime();
  let problem = formalProblem(raw, p, svc.config.smtp.maxTotalBytes);
  let opened: ReturnType<typeof openTransaction> | null = null;
  if (!problem) {
    try {
      opened = openTransaction(svc.build, raw, {
        identificativo: p.identificativo,
        classify: (a) => svc.index.classify(a),
      });
    } catch (err) {
      problem = `messaggio non leggibile (${(err as Error).message.replace(/^[\w-]+: /, "")})`;
    }
  }
  const tx = opened?.transaction ?? fallbackTransaction(svc, p, raw);

  // The virus path (RFC 6109 §3.1.1 / §3.3.1): refused at the access point, kept apart.
  let virus: string | null = null;
  if (!problem && svc.scanner) {
    const r = await svc.scanner.scan(raw);
    if (r.infected) virus = r.virus ?? "virus";
  }

  if (problem || virus || !opened) {
    if (!job || p.blobId === undefined) return false;
    const notice = await buildNonAccettazione(
      svc.build,
      tx,
      virus ? { kind: "virus", detail: virus } : { kind: "formale", detail: problem ?? "errore" },
    );
    const routed = await stored(svc, notice);
    routed.recipients = [p.user];
    await svc.ts.transaction(async (trx) => {
      if (virus) {
        await svc.ts.quarantine(
          trx,
          {
            blobId: p.blobId!,
            identificativo: tx.identificativo,
            reason: `access point: ${virus}`,
            keepUntil: now + svc.config.pec.logRetentionMonths * MONTH_MS,
          },
          now,
        );
      }
      await commitRouted(
        svc,
        trx,
        [routed],
        [logOf(tx, virus ? "virus" : "non-accettazione", virus ? `virus: ${virus}` : (problem ?? "errore"))],
        now,
      );
      await svc.ts.complete(trx, job, now);
    });
    return true;
  }

  const { enclosed } = opened;
  const rcpts = [...new Set(p.rcptTo.map((r) => r.toLowerCase()))];
  const destinatari = rcpts.map((r) => ({ address: r, tipo: svc.index.classify(r) }));
  const senderBox = await svc.store.getMailbox(tx.mittente);
  const senderInbox = senderBox ? await svc.store.getFolder(senderBox.id, "INBOX") : null;
  // A local recipient may be delivered in the acceptance's own commit (acceptAndRoute, which reads the
  // box after the build, so that its state and room are as fresh as before the thread did the work):
  // its delivery receipt is built with the acceptance and the envelope. One left unused (a missing,
  // deactivated or full box) costs a signature, never a wrong message.
  const local = senderBox && senderInbox ? rcpts.filter((r) => isLocal(svc, r)) : [];
  const [accBuilt, envelope, ...receipts] = await svc.builds.build(svc.clock(), [
    { kind: "accettazione", tx },
    { kind: "busta-trasporto", tx, enclosed },
    ...local.map((consegna) => ({ kind: "avvenuta-consegna" as const, tx, consegna, enclosed })),
  ]);
  const receiptFor = new Map(local.map((r, i) => [r, receipts[i]!]));
  const accepted: Accepted = {
    job,
    tx,
    now,
    accBuilt: accBuilt!,
    envelope: envelope!,
    rcpts,
    destinatari,
    senderBox,
    senderInbox,
    receiptFor,
  };
  try {
    await acceptAndRoute(svc, accepted, true);
  } catch (err) {
    // A box filled up between the checks and the commit: the general path sorts out whose it was.
    if (!(err instanceof StoreError && err.code === "OVER_QUOTA")) throw err;
    await acceptAndRoute(svc, accepted, false);
  }
  return true;
}

interface Accepted {
  /** null: accepted straight from the SMTP session (acceptNow), no job row to finish */
  job: Job | null;
  tx: Transaction;
  now: number;
  accBuilt: BuiltPec;
  envelope: BuiltPec;
  rcpts: string[];
  destinatari: { address: string; tipo: string }[];
  senderBox: Mailbox | null;
  senderInbox: Folder | null;
  /** the delivery receipts of the local recipients, built with the acceptance */
  receiptFor: Map<string, BuiltPec>;
}

/**
 * The acceptance, the envelope and its routing, committed with the job. With `direct`, a recipient whose
 * box is here and can take the envelope now is delivered in the same transaction: the delivery point's
 * work (RFC 6109 §3.1.6, envelope into the box and ricevuta di avvenuta consegna to the sender) done at
 * once rather than through a `deliver` job, its `store` job and two timers that would find it delivered.
 * Any other recipient (another provider, a box that cannot take it) goes through the jobs as before.
 */
async function acceptAndRoute(svc: ServiceContext, a: Accepted, direct: boolean): Promise<void> {
  const { job, tx, now, accBuilt, envelope, rcpts, destinatari, senderBox, senderInbox } = a;
  const envStage = await svc.store.stageBlobs([bytesOf(envelope)]);
  const envRef = envStage.refs[0]!;
  const envelopeRouted: Routed = {
    blobId: envRef.id,
    from: tx.mittente,
    recipients: [],
    pecId: tx.identificativo,
    what: "posta-certificata",
  };
  const delivered: { address: string; box: Mailbox; inbox: Folder; receipt: BuiltPec }[] = [];
  const jobs: NewJob[] = [];
  const remote: string[] = [];
  for (const r of rcpts) {
    if (!isLocal(svc, r)) {
      remote.push(r);
      continue;
    }
    const receipt = a.receiptFor.get(r);
    if (direct && senderBox && senderInbox && receipt) {
      const box = await svc.store.getMailbox(r);
      const inbox =
        box && !causeFor(box, envelope.raw.length) ? await svc.store.getFolder(box.id, "INBOX") : null;
      if (box && inbox) {
        delivered.push({ address: r, box, inbox, receipt });
        continue;
      }
    }
    // Two boxes of this provider still go through the delivery point: envelope and receipts.
    jobs.push({
      kind: "deliver",
      key: `deliver:${tx.identificativo}:${r}`,
      payload: { identificativo: tx.identificativo, envelopeBlobId: envRef.id, rcpt: r, origin: "local" },
      runAt: now,
    });
  }
  jobs.push(
    ...routeJobs(svc, { ...envelopeRouted, recipients: remote }, now, { identificativo: tx.identificativo }),
  );
  const preavviso = now + svc.config.pec.preavvisoHours * 3600_000;
  const final = now + svc.config.pec.finalHours * 3600_000;
  const done = new Set(delivered.map((d) => d.address));
  for (const d of destinatari) {
    if (d.tipo !== "certificato" || done.has(d.address)) continue;
    for (const [stage, at] of [
      ["preavviso", preavviso],
      ["final", final],
    ] as const) {
      jobs.push({
        kind: "timer",
        key: `timer:${stage}:${tx.identificativo}:${d.address}`,
        payload: { identificativo: tx.identificativo, rcpt: d.address, stage },
        runAt: at,
      });
    }
  }
  for (const d of delivered) {
    jobs.push(
      ...notifyJobs(svc, d.box, envelope.raw, now),
      ...notifyJobs(svc, senderBox!, d.receipt.raw, now),
    );
  }
  const log = [
    logOf(tx, "accettazione", "accettato", rcpts),
    logOf(
      tx,
      "busta-trasporto",
      `inviata (${rcpts.map((r) => `${r}:${isLocal(svc, r) ? "locale" : domainOf(r)}`).join(", ")})`,
      rcpts,
    ),
    ...delivered.map((d) => logOf(tx, "consegna", "consegnato", [d.address])),
  ];
  const bookkeeping = async (trx: AnyTx, acceptanceJobs: Routed[]) => {
    // Delivered here, the envelope's bytes are written by its append into the recipient's box.
    if (delivered.length === 0) await envStage.write(trx);
    // A recipient delivered in this same transaction is written delivered at once.
    const states = destinatari.map((d) => (done.has(d.address) ? { ...d, state: "delivered" as const } : d));
    await svc.ts.saveTransaction(trx, tx.identificativo, tx.mittente, tx, states, now);
    await svc.ts.enqueue(trx, jobs, now);
    await commitRouted(svc, trx, acceptanceJobs, log, now);
    if (job) await svc.ts.complete(trx, job, now);
  };
  // The acceptance goes into the sender's box in the same transaction as everything else: one commit.
  if (senderBox && senderInbox) {
    const pecId = tx.identificativo;
    try {
      // The rules' order of events in every box: acceptance, envelope, delivery receipt. The sender's
      // acceptance and receipts go in one batch, unless the sender is also a recipient.
      const acc = { bytes: bytesOf(accBuilt), pecId };
      const receipts = delivered.map((d) => ({ bytes: bytesOf(d.receipt), pecId }));
      const toSelf = delivered.some((d) => d.box.id === senderBox.id);
      const sender = (inputs: { bytes: MessageBytes; pecId: string }[]) => ({
        mailboxId: senderBox.id,
        folderId: senderInbox.id,
        box: senderBox,
        inputs,
      });
      const envelopes = delivered.map((d) => ({
        mailboxId: d.box.id,
        folderId: d.inbox.id,
        box: d.box,
        inputs: [{ bytes: bytesOf(envelope), pecId }],
      }));
      await svc.store.appendToMany(
        toSelf || receipts.length === 0
          ? [sender([acc]), ...envelopes, ...(receipts.length ? [sender(receipts)] : [])]
          : [sender([acc, ...receipts]), ...envelopes],
        { within: (trx) => bookkeeping(trx, []) },
      );
      // Straight from an SMTP session nobody else looks at the queue: wake it for what was added.
      if (jobs.length > 0) svc.wake();
      return;
    } catch (err) {
      if (!(err instanceof StoreError && err.code === "OVER_QUOTA")) throw err;
      if (delivered.length > 0) throw err; // retried without direct delivery by handleSubmit
    }
  }
  // A full box still gets its acceptance later, through the retried `store` job.
  const acceptance = await stored(svc, accBuilt);
  await svc.ts.transaction((trx) => bookkeeping(trx, [{ ...acceptance, recipients: [tx.mittente] }]));
  svc.wake();
}
