// `npm run bench -- pec`: PEC messages built and signed per second on one core, beside the peer measured
// in the same run: the raw RSA-2048 SHA-256 signature (node:crypto) every message must pay once. The ratio
// message/raw says how much the MIME, daticert and CMS work costs on top of the unavoidable arithmetic.
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

function rate(fn: () => void): { ops: number; perSecond: number } {
  for (let i = 0; i < 20; i++) fn(); // warm-up: JIT and caches
  let ops = 0;
  const started = performance.now();
  const deadline = started + SECONDS * 1000;
  while (performance.now() < deadline) {
    fn();
    ops++;
  }
  return { ops, perSecond: ops / ((performance.now() - started) / 1000) };
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
    const busta = buildBustaTrasporto(ctx, transaction, enclosed).raw;

    const raw = rate(() => sign("sha256", block, keys.signer.key));
    const cases: [string, () => void][] = [
      [
        "busta di trasporto (open + build + sign)",
        () => {
          const t = openTransaction(ctx, original);
          buildBustaTrasporto(ctx, t.transaction, t.enclosed);
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
    const rows: Row[] = [
      { operation: "raw RSA-2048 sign (peer)", "per second": raw.perSecond, "ratio to raw": 1, ops: raw.ops },
    ];
    for (const [name, fn] of cases) {
      const r = rate(fn);
      rows.push({
        operation: name,
        "per second": r.perSecond,
        "ratio to raw": r.perSecond / raw.perSecond,
        ops: r.ops,
      });
    }
    console.log(`one core, ${SECONDS} s per row, message of ${busta.length} bytes (envelope)`);
    printTable(rows);
    writeResults("pec", { seconds: SECONDS, envelopeBytes: busta.length, node: process.version, rows });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
