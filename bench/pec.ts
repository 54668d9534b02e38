// `npm run bench -- pec`: PEC messages built and signed per second on one core, beside the peer measured
// in the same run: the raw RSA-2048 SHA-256 signature (node:crypto) every message must pay once, measured in
// slices interleaved with each case. The ratio message/raw says how much the MIME, daticert and CMS work
// costs on top of the unavoidable arithmetic.
import { randomBytes, sign } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type BuildContext,
  buildAccettazione,
  buildAvvenutaConsegna,
  buildBustaTrasporto,
  openTransaction,
} from "../src/pec/builders.js";
import { ensureProviderKeys } from "../src/pec/provider-keys.js";
import { readPec } from "../src/pec/reader.js";
import { TrustStore } from "../src/pec/smime.js";
import { originalMessage } from "../test/pec/pec-helpers.js";
import { printTable, type Row, writeResults } from "./report.js";

const SECONDS = Number(process.env.BENCH_PEC_SECONDS ?? 2);

type Op = () => unknown;

/** Runs `fn` one call after another for about `ms`; returns operations and elapsed milliseconds. */
async function slice(fn: Op, ms: number): Promise<{ ops: number; ms: number }> {
  let ops = 0;
  const started = performance.now();
  const deadline = started + ms;
  while (performance.now() < deadline) {
    await fn();
    ops++;
  }
  return { ops, ms: performance.now() - started };
}

/**
 * The case and the raw signature alternate in 100 ms slices for SECONDS in total, so load from other
 * processes on the machine hits both alike and their ratio stays meaningful.
 */
async function interleaved(
  fn: Op,
  peer: Op,
): Promise<{ perSecond: number; peerPerSecond: number; ops: number }> {
  for (let i = 0; i < 20; i++) {
    await fn(); // warm-up: JIT and caches
    await peer();
  }
  let a = { ops: 0, ms: 0 };
  let b = { ops: 0, ms: 0 };
  for (let t = 0; t < SECONDS * 1000; t += 200) {
    const x = await slice(fn, 100);
    const y = await slice(peer, 100);
    a = { ops: a.ops + x.ops, ms: a.ms + x.ms };
    b = { ops: b.ops + y.ops, ms: b.ms + y.ms };
  }
  return { perSecond: (a.ops * 1000) / a.ms, peerPerSecond: (b.ops * 1000) / b.ms, ops: a.ops };
}

export default async function run(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "domicilio-bench-pec-"));
  try {
    const keys = await ensureProviderKeys(dir, { name: "Bench PEC", domain: "pec.bench.it" });
    const now = new Date();
    const ctx: BuildContext = {
      provider: { name: "Bench PEC", domain: "pec.bench.it" },
      signer: keys.signer,
      now: () => now,
      random: randomBytes,
    };
    const original = originalMessage({ subject: "Fattura n. 12 — città", attachment: true });
    const { transaction, enclosed } = openTransaction(ctx, original);
    const block = randomBytes(1024);
    const trust = new TrustStore([keys.ca]);
    const busta = (await buildBustaTrasporto(ctx, transaction, enclosed)).raw;

    // The builders sign on libuv's thread pool (smime.ts): the peer signs there too, one at a time.
    const raw = () =>
      new Promise<Buffer>((resolve, reject) =>
        sign("sha256", block, keys.signer.key, (err, sig) => (err ? reject(err) : resolve(sig))),
      );
    const cases: [string, Op][] = [
      [
        "busta di trasporto (open + build + sign)",
        () => {
          const t = openTransaction(ctx, original);
          return buildBustaTrasporto(ctx, t.transaction, t.enclosed);
        },
      ],
      ["ricevuta di accettazione", () => buildAccettazione(ctx, transaction)],
      [
        "ricevuta di avvenuta consegna completa",
        () => buildAvvenutaConsegna(ctx, transaction, "anna.neri@pec.beta.it", enclosed, "completa"),
      ],
      [
        "read + verify busta (SHA-256, trusted)",
        () => {
          if (!readPec(busta, { trust }).signature.trusted) throw new Error("bench message does not verify");
        },
      ],
    ];
    const rows: Row[] = [];
    for (const [name, fn] of cases) {
      const r = await interleaved(fn, raw);
      rows.push({
        operation: name,
        "per second": r.perSecond,
        "peer: raw RSA-2048 sign per second": r.peerPerSecond,
        "ratio to raw": r.perSecond / r.peerPerSecond,
        ops: r.ops,
      });
    }
    console.log(
      `one core, ${SECONDS} s per row (interleaved with the peer), message of ${busta.length} bytes (envelope)`,
    );
    printTable(rows);
    writeResults("pec", { seconds: SECONDS, envelopeBytes: busta.length, node: process.version, rows });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
