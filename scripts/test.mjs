// The whole test suite, as CI runs it: system peers, type check, lint, build, then every test file under
// test/ with node's test runner. Ends with the line `N passed, N failed`.
// Arguments narrow the run to files whose path contains one of them: `npm test -- store pec`.
import { spawnSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { startPostgresCluster } from "./postgres-cluster.mjs";
import { ensureSystemDeps } from "./system-deps.mjs";

const filters = process.argv.slice(2);

function run(cmd, args) {
  const r = spawnSync(cmd, args, { stdio: "inherit" });
  return r.status === 0;
}

function listTests(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...listTests(p));
    else if (name.endsWith(".test.ts")) out.push(p);
  }
  return out.sort();
}

function finish(passed, failed) {
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed > 0 ? 1 : 0);
}

try {
  ensureSystemDeps();
} catch (err) {
  console.error(String(err instanceof Error ? err.message : err));
  finish(0, 1);
}

let checksFailed = 0;
for (const [label, cmd, args] of [
  ["type check", "npx", ["tsc", "--noEmit", "-p", "tsconfig.json"]],
  ["lint", "npx", ["biome", "check", "."]],
  ["build", "npm", ["run", "--silent", "build"]],
]) {
  console.log(`== ${label}`);
  if (!run(cmd, args)) {
    console.error(`${label} failed`);
    checksFailed++;
  }
}

// One PostgreSQL cluster for the whole run; each test creates its own database in it.
const cluster = await startPostgresCluster();
process.on("exit", () => cluster.stop());
process.env.DOMICILIO_TEST_POSTGRES = cluster.adminUrl;

const files = listTests("test").filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)));
mkdirSync(".test-results", { recursive: true });
const tap = ".test-results/results.tap";
run("node", [
  "--import",
  "tsx",
  "--test",
  "--test-concurrency=2",
  "--test-reporter=spec",
  "--test-reporter-destination=stdout",
  "--test-reporter=tap",
  `--test-reporter-destination=${tap}`,
  ...files,
]);

const summary = readFileSync(tap, "utf8");
const count = (key) => Number(summary.match(new RegExp(`^# ${key} (\\d+)$`, "m"))?.[1] ?? 0);
const passed = count("pass");
const failed = count("fail") + count("cancelled") + checksFailed;
if (passed + failed === 0) {
  console.error("no test ran");
  finish(0, 1);
}
finish(passed, failed);
