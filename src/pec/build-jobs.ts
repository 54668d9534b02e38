// The provider messages one accepted submission needs, described as data so that a build thread can
// write them (build-thread.ts): the ricevuta di accettazione, the busta di trasporto and the ricevute di
// avvenuta consegna of the local recipients (RFC 6109 §3.1.1, §3.1.2, §3.1.6). Every message of one
// request carries the same time: the moment the access point took the submission.
import {
  type BuildContext,
  type BuiltPec,
  buildAccettazione,
  buildAvvenutaConsegna,
  buildBustaTrasporto,
  type Transaction,
} from "./builders.js";

export type BuildJob =
  | { kind: "accettazione"; tx: Transaction }
  | { kind: "busta-trasporto"; tx: Transaction; enclosed: Uint8Array }
  | { kind: "avvenuta-consegna"; tx: Transaction; consegna: string; enclosed: Uint8Array };

/** A Buffer again after a trip through postMessage, which hands over a plain Uint8Array. */
export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Every job of a request, all dated `now` (ms since the epoch), in order: on the build thread or here. */
export function runBuildJobs(
  ctx: Omit<BuildContext, "now">,
  now: number,
  jobs: BuildJob[],
): Promise<BuiltPec[]> {
  const at = new Date(now);
  const dated: BuildContext = { ...ctx, now: () => at };
  return Promise.all(jobs.map((j) => runBuildJob(dated, j)));
}

/** Async so that a builder that throws before its first await rejects instead (nothing escapes). */
async function runBuildJob(ctx: BuildContext, job: BuildJob): Promise<BuiltPec> {
  switch (job.kind) {
    case "accettazione":
      return await buildAccettazione(ctx, job.tx);
    case "busta-trasporto":
      return await buildBustaTrasporto(ctx, job.tx, asBuffer(job.enclosed));
    case "avvenuta-consegna":
      return await buildAvvenutaConsegna(ctx, job.tx, job.consegna, asBuffer(job.enclosed));
  }
}
