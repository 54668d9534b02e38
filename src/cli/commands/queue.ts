// `domicilio queue --data DIR [--json]`: the PEC service's durable queue — counts by kind and state, and
// the jobs still waiting or running (deliveries to other servers with their last error, timers).
import type { Command } from "commander";
import { withStore } from "../context.js";

export function registerQueue(program: Command): void {
  program
    .command("queue")
    .description("show the PEC queue: jobs by kind and state, and those waiting with their last error")
    .requiredOption("--data <dir>", "data folder")
    .option("--json", "print JSON")
    .option("--all", "list failed jobs too")
    .action(async (opts: { data: string; json?: boolean; all?: boolean }) => {
      await withStore(opts.data, async (store) => {
        const ts = store.transport();
        const counts = await ts.counts();
        const waiting = await ts.listJobs(
          opts.all ? ["pending", "running", "failed"] : ["pending", "running"],
        );
        if (opts.json) {
          process.stdout.write(`${JSON.stringify({ counts, waiting })}\n`);
          return;
        }
        for (const c of counts) console.log(`${c.kind.padEnd(10)} ${c.state.padEnd(8)} ${c.n}`);
        for (const j of waiting) {
          console.log(
            `#${j.id} ${j.kind} ${j.state} due ${new Date(Number(j.run_at)).toISOString()} attempts ${j.attempts}` +
              (j.last_error ? ` — ${j.last_error}` : ""),
          );
        }
      });
    });
}
