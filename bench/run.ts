// `npm run bench [-- NAME …]`: runs the named benchmarks (every bench/*.ts but this file when none is
// named; `pec` runs pec and pec-service). Each prints a table with Domicilio beside its peer measured in the same run, and writes JSON
// to bench/results/ for history.
import { readdirSync } from "node:fs";
import { join } from "node:path";

const here = import.meta.dirname;
const available = readdirSync(here)
  .filter((f) => f.endsWith(".ts") && !["run.ts", "report.ts"].includes(f) && !f.endsWith(".d.ts"))
  .map((f) => f.slice(0, -3))
  .sort();
const names = process.argv.slice(2).filter((a) => !a.startsWith("-"));
// `pec` is the PEC library's bench and the service's end to end (the PEC service issue asks for its
// figures under that name): both, one after the other.
const GROUPS: Record<string, string[]> = { pec: ["pec", "pec-service"] };
const chosen = names.length ? [...new Set(names.flatMap((n) => GROUPS[n] ?? [n]))] : available;
for (const name of chosen) {
  if (!available.includes(name)) {
    console.error(`unknown benchmark "${name}"; available: ${available.join(", ")}`);
    process.exit(2);
  }
}
for (const name of chosen) {
  console.log(`\n== bench ${name}`);
  const mod = (await import(join(here, `${name}.ts`))) as { default: () => Promise<void> };
  await mod.default();
}
