// New-message notifications to the member's ordinary address (mission.md "Settings"): sender and subject
// only, never content, at most one per box per `notify.intervalMinutes`, through the configured relay.
import nodemailer from "nodemailer";
import type { Job } from "../store/transport-store.js";
import type { ServiceContext } from "./context.js";

export async function handleNotify(svc: ServiceContext, job: Job): Promise<void> {
  const p = job.payload as { mailboxId: number; from: string; subject: string };
  const now = svc.clock().getTime();
  const box = await svc.store.getMailboxById(p.mailboxId);
  const last = await svc.ts.lastNotification(p.mailboxId);
  const interval = svc.config.notify.intervalMinutes * 60_000;
  const relay = /^(.+):(\d+)$/.exec(svc.config.notify.relay);
  if (!box?.settings.notifyTo || !relay || (last !== null && now - last < interval)) {
    await svc.ts.transaction((trx) => svc.ts.complete(trx, job, now));
    return;
  }
  const t = nodemailer.createTransport({
    host: relay[1]!,
    port: Number(relay[2]),
    secure: false,
    tls: { rejectUnauthorized: false },
  });
  try {
    await t.sendMail({
      from: svc.config.notify.from || `no-reply@${svc.build.provider.domain}`,
      to: box.settings.notifyTo,
      subject: `Nuovo messaggio nella casella PEC ${box.address}`,
      text:
        `Nella casella PEC ${box.address} è arrivato un nuovo messaggio.\n\n` +
        `Mittente: ${p.from}\nOggetto: ${p.subject}\n\nPer leggerlo accedi alla tua casella PEC.\n`,
    });
  } finally {
    t.close();
  }
  await svc.ts.transaction(async (trx) => {
    await svc.ts.setNotification(trx, p.mailboxId, now);
    await svc.ts.complete(trx, job, now);
  });
}
