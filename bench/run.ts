// `npm run bench [-- NAME …]`: runs the named benchmarks (every bench/*.ts but this file when none is
// named). Each prints a table with Domicilio beside its peer measured in the same run, and writes JSON
// to bench/results/ for history.
import { readdirSync } from "node:fs";
import { join } from "node:path";

const here = import.meta.dirname;
const available = readdirSync(here)
  .filter((f) => f.endsWith(".ts") && !["run.ts", "report.ts"].includes(f) && !f.endsWith(".d.ts"))
  .map((f) => f.slice(0, -3))
  .sort();
const names = process.argv.slice(2).filter((a) => !a.startsWith("-"));
const chosen = names.length ? names : available;
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
