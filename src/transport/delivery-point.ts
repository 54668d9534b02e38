// The delivery point (pec-rules.md "Roles", RFC 6109 §3.1.6-3.1.7): the envelope goes into the box, and
// in the same database transaction the ricevuta di avvenuta consegna of the requested kind is queued for
// the sender; when the box cannot take it (no such box, deactivated, full) an avviso di mancata consegna
// with its cause (AgID note 12) goes instead. Also the plain `store` job: a receipt or notice into a box.
import {
  type BuiltPec,
  buildAvvenutaConsegna,
  buildMancataConsegna,
  type Transaction,
  transactionFromDaticert,
} from "../pec/builders.js";
import type { NonDeliveryCause } from "../pec/non-delivery.js";
import { readPec } from "../pec/reader.js";
import type { AnyTx, Job, NewJob } from "../store/transport-store.js";
import type { Mailbox } from "../store/types.js";
import { StoreError } from "../store/types.js";
import { commitRouted, isLocal, logOf, type ServiceContext, stored } from "./context.js";
import { headerAddresses, headerText } from "./headers.js";

export interface DeliverPayload {
  identificativo: string;
  envelopeBlobId: string;
  rcpt: string;
  /** local: the transaction is ours (its recipient states are kept here) */
  origin: "local" | "remote";
}

/** Why a box cannot take a message now (AgID note 12 causes), or null when it can. */
export function causeFor(box: Mailbox | null, size: number): NonDeliveryCause | null {
  if (!box) return "user-unknown";
  if (box.state === "deactivated") return "box-disabled";
  if (box.usedBytes + size > box.quotaBytes) return "box-full";
  return null;
}

async function inbox(svc: ServiceContext, box: Mailbox): Promise<number> {
  const f = await svc.store.getFolder(box.id, "INBOX");
  if (!f) throw new StoreError("NO_SUCH_FOLDER", "the box has no INBOX");
  return f.id;
}

/** New-mail notification (mission.md "Settings"), at most one per interval: a job keyed by the slot. */
export function notifyJobs(svc: ServiceContext, box: Mailbox, raw: Buffer, now: number): NewJob[] {
  if (!svc.config.notify.relay || !box.settings.notifyTo) return [];
  const slot = Math.floor(now / (svc.config.notify.intervalMinutes * 60_000));
  return [
    {
      kind: "notify",
      key: `notify:${box.id}:${slot}`,
      payload: {
        mailboxId: box.id,
        from: headerAddresses(raw, "reply-to")[0] ?? headerAddresses(raw, "from")[0] ?? "",
        subject: headerText(raw, "subject") ?? "",
      },
      runAt: now,
    },
  ];
}

export async function handleDeliver(svc: ServiceContext, job: Job): Promise<void> {
  const p = job.payload as DeliverPayload;
  const raw = await svc.store.blobs.get(p.envelopeBlobId);
  const reading = readPec(raw);
  if (!reading.daticert) throw new Error(`envelope ${p.identificativo} without daticert`);
  const tx: Transaction = transactionFromDaticert(reading.daticert);
  const enclosed = reading.original ?? Buffer.alloc(0);
  const box = await svc.store.getMailbox(p.rcpt);
  let cause = causeFor(box, raw.length);
  const now = () => svc.clock().getTime();

  const finishFailed = async (c: NonDeliveryCause) => {
    const notice = await stored(svc, await buildMancataConsegna(svc.build, tx, p.rcpt, c));
    const t = now();
    await svc.ts.transaction(async (trx) => {
      await afterOutcome(svc, trx, p, tx, "failed", t);
      await commitRouted(svc, trx, [notice], [logOf(tx, "mancata-consegna", c, [p.rcpt])], t);
      await svc.ts.complete(trx, job, t);
    });
  };

  if (cause) return finishFailed(cause);
  const receipt: BuiltPec = await buildAvvenutaConsegna(svc.build, tx, p.rcpt, enclosed);
  const routed = await stored(svc, receipt);
  try {
    const t = now();
    await svc.store.appendMessages(
      box!.id,
      await inbox(svc, box!),
      [{ bytes: raw, pecId: tx.identificativo }],
      {
        within: async (trx) => {
          await afterOutcome(svc, trx, p, tx, "delivered", t);
          await svc.ts.enqueue(trx, notifyJobs(svc, box!, raw, t), t);
          await commitRouted(svc, trx, [routed], [logOf(tx, "consegna", "consegnato", [p.rcpt])], t);
          await svc.ts.complete(trx, job, t);
        },
      },
    );
  } catch (err) {
    if (err instanceof StoreError && err.code === "OVER_QUOTA") {
      cause = "box-full";
      return finishFailed(cause);
    }
    throw err;
  }
}

async function afterOutcome(
  svc: ServiceContext,
  trx: AnyTx,
  p: DeliverPayload,
  tx: Transaction,
  state: "delivered" | "failed",
  now: number,
) {
  if (p.origin === "local") await svc.ts.advanceRecipient(trx, tx.identificativo, p.rcpt, state, now);
}

export interface StorePayload {
  blobId: string;
  address: string;
  pecId: string | null;
  what: string;
}

/** A receipt, notice or anomaly envelope into a local box; a box that cannot take it is retried later. */
export async function handleStore(svc: ServiceContext, job: Job): Promise<void> {
  const p = job.payload as StorePayload;
  const now = svc.clock().getTime();
  const box = isLocal(svc, p.address) ? await svc.store.getMailbox(p.address) : null;
  if (!box) {
    await svc.ts.transaction(async (trx) => {
      await svc.ts.appendLog(
        trx,
        [
          {
            event: "errore",
            identificativo: p.pecId,
            recipients: [p.address],
            outcome: `${p.what}: casella inesistente`,
          },
        ],
        now,
      );
      await svc.ts.complete(trx, job, now, "failed", "no such box");
    });
    return;
  }
  const raw = await svc.store.blobs.get(p.blobId);
  await svc.store.appendMessages(
    box.id,
    await inbox(svc, box),
    [{ bytes: raw, ...(p.pecId ? { pecId: p.pecId } : {}) }],
    {
      within: async (trx) => {
        await svc.ts.enqueue(trx, notifyJobs(svc, box, raw, now), now);
        await svc.ts.complete(trx, job, now);
      },
    },
  );
}
