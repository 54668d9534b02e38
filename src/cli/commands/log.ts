// `domicilio log export --box ADDRESS [--from DATE] [--to DATE] --data DIR`: the owner's extract of the
// registro (JSON lines: time, event, identificativo, Message-ID, sender, recipients, subject, outcome).
// `domicilio log verify --data DIR`: re-computes the hash chain and checks the signed checkpoints; exit 1
// when an entry was edited, inserted or removed.
import type { Command } from "commander";
import { exportForBox, verifyRegistro } from "../../transport/registro.js";
import { CliError, withStore } from "../context.js";

function parseDate(value: string | undefined, flag: string, endOfDay: boolean): number | undefined {
  if (value === undefined) return undefined;
  const d = /^\d{4}-\d{2}-\d{2}$/.test(value)
    ? new Date(`${value}T${endOfDay ? "23:59:59.999" : "00:00:00.000"}Z`)
    : new Date(value);
  if (Number.isNaN(d.getTime()))
    throw new CliError(`${flag}: "${value}" is not a date (YYYY-MM-DD or ISO 8601)`);
  return d.getTime();
}

export function registerLog(program: Command): void {
  const log = program.command("log").description("the registro: the PEC log of every transaction");
  log
    .command("export")
    .description("print the entries about one box as JSON lines (the owner's extract)")
    .requiredOption("--box <address>", "the PEC box")
    .option("--from <date>", "first day (YYYY-MM-DD) or instant (ISO 8601)")
    .option("--to <date>", "last day (YYYY-MM-DD) or instant (ISO 8601)")
    .requiredOption("--data <dir>", "data folder")
    .action(async (opts: { box: string; from?: string; to?: string; data: string }) => {
      const fromAt = parseDate(opts.from, "--from", false);
      const toAt = parseDate(opts.to, "--to", true);
      await withStore(opts.data, async (store) => {
        const range = {
          ...(fromAt !== undefined ? { fromAt } : {}),
          ...(toAt !== undefined ? { toAt } : {}),
        };
        for await (const e of exportForBox(store.transport(), opts.box, range)) {
          process.stdout.write(
            `${JSON.stringify({
              seq: e.seq,
              at: new Date(e.at).toISOString(),
              event: e.event,
              identificativo: e.identificativo,
              msgid: e.msgid,
              sender: e.sender,
              recipients: e.recipients,
              subject: e.subject,
              outcome: e.outcome,
              hash: e.hash,
            })}\n`,
          );
        }
      });
    });
  log
    .command("verify")
    .description("check the registro's hash chain and signed checkpoints")
    .requiredOption("--data <dir>", "data folder")
    .option("--json", "print JSON")
    .action(async (opts: { data: string; json?: boolean }) => {
      await withStore(opts.data, async (store) => {
        const r = await verifyRegistro(store.transport());
        if (opts.json) process.stdout.write(`${JSON.stringify(r)}\n`);
        else {
          console.log(
            r.ok
              ? `registro intact: ${r.entries} entries, ${r.checkpoints} signed checkpoints`
              : `registro NOT intact (${r.entries} entries, ${r.checkpoints} checkpoints):`,
          );
          for (const p of r.problems) console.log(`  ${p}`);
        }
        if (!r.ok) process.exitCode = 1;
      });
    });
}
