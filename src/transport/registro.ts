// The registro (pec-rules.md "The log"): every PEC event with time, identificativo, original Message-ID,
// sender, recipients, subject and outcome — never content. Entries are hash-chained (each hash covers the
// previous one) and the chain head is signed with the provider's key every `pec.checkpointEvery` entries
// and when the process stops, so an edited, inserted or removed entry breaks the chain or a checkpoint.
import { sign, verify, X509Certificate } from "node:crypto";
import type { ProviderKeys } from "../pec/provider-keys.js";
import { LOG_GENESIS, type LogEntry, logEntryHash, type TransportStore } from "../store/transport-store.js";

function checkpointData(seq: number, hash: string): Buffer {
  return Buffer.from(`domicilio-registro:${seq}:${hash}`, "utf8");
}

/** Signs the current head when it moved on by `every` entries since the last checkpoint (or `force`). */
export async function checkpoint(
  ts: TransportStore,
  keys: ProviderKeys,
  now: number,
  every: number,
  force = false,
): Promise<boolean> {
  const head = await ts.logHead();
  if (head.seq === 0) return false;
  const last = await ts.lastCheckpoint();
  const lastSeq = last ? Number(last.seq) : 0;
  if (head.seq === lastSeq || (!force && head.seq - lastSeq < every)) return false;
  const signature = sign("sha256", checkpointData(head.seq, head.hash), keys.signer.key).toString("base64");
  await ts.addCheckpoint({
    seq: head.seq,
    at: now,
    hash: head.hash,
    signature,
    certificate: keys.signingPem,
  });
  return true;
}

export interface VerifyReport {
  ok: boolean;
  entries: number;
  checkpoints: number;
  problems: string[];
}

/** Re-computes the whole chain and checks every checkpoint's signature and position. */
export async function verifyRegistro(ts: TransportStore): Promise<VerifyReport> {
  const problems: string[] = [];
  const cps = await ts.checkpoints();
  const cpBySeq = new Map(cps.map((c) => [Number(c.seq), c]));
  let prevSeq: number | null = null;
  let prevHash = LOG_GENESIS;
  let entries = 0;
  let lastSeq = 0;
  for await (const e of ts.logEntries()) {
    entries++;
    if (prevSeq === null) {
      // The first entry: seq 1 from the genesis, or the first kept after retention, anchored by a checkpoint.
      if (e.seq !== 1) {
        const anchor = cpBySeq.get(e.seq - 1);
        if (!anchor || anchor.hash !== e.prevHash)
          problems.push(
            `entry ${e.seq}: the chain starts without entries 1..${e.seq - 1} and no checkpoint anchors it`,
          );
      } else if (e.prevHash !== LOG_GENESIS) problems.push(`entry 1: does not start from the genesis`);
    } else {
      if (e.seq !== prevSeq + 1) problems.push(`entries ${prevSeq + 1}..${e.seq - 1} are missing`);
      if (e.prevHash !== prevHash)
        problems.push(`entry ${e.seq}: previous hash does not match entry ${prevSeq}`);
    }
    const { hash, ...rest } = e;
    if (logEntryHash(rest) !== hash)
      problems.push(`entry ${e.seq}: content does not match its hash (edited)`);
    const cp = cpBySeq.get(e.seq);
    if (cp && cp.hash !== hash) problems.push(`entry ${e.seq}: differs from signed checkpoint`);
    prevSeq = e.seq;
    prevHash = hash;
    lastSeq = e.seq;
  }
  const head = await ts.logHead();
  if (head.seq !== lastSeq || (lastSeq > 0 && head.hash !== prevHash))
    problems.push(
      `the chain head (entry ${head.seq}) does not match the last entry (${lastSeq}): entries removed`,
    );
  for (const c of cps) {
    const seq = Number(c.seq);
    if (seq > lastSeq)
      problems.push(`checkpoint ${seq} is beyond the last entry ${lastSeq}: entries removed`);
    try {
      const cert = new X509Certificate(c.certificate);
      if (!verify("sha256", checkpointData(seq, c.hash), cert.publicKey, Buffer.from(c.signature, "base64")))
        problems.push(`checkpoint ${seq}: signature does not verify`);
    } catch {
      problems.push(`checkpoint ${seq}: unreadable certificate or signature`);
    }
  }
  return { ok: problems.length === 0, entries, checkpoints: cps.length, problems };
}

/** The owner's extract: entries where the box is the sender or a recipient, in a time range. */
export async function* exportForBox(
  ts: TransportStore,
  box: string,
  range: { fromAt?: number; toAt?: number },
): AsyncGenerator<LogEntry> {
  const b = box.trim().toLowerCase();
  for await (const e of ts.logEntries(range)) {
    if (e.sender?.toLowerCase() === b || e.recipients.includes(b)) yield e;
  }
}
