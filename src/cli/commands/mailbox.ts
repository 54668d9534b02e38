// `domicilio mailbox add ADDRESS --data DIR --password PW [--active] [--quota BYTES]` (contract.md).
import type { Command } from "commander";
import { parseAddress } from "../../accounts/addresses.js";
import { hashPassword } from "../../accounts/passwords.js";
import { StoreError } from "../../store/types.js";
import { CliError, withStore } from "../context.js";

function parseQuota(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) <= 0 || !Number.isSafeInteger(Number(value))) {
    throw new CliError(`--quota: "${value}" is not a positive number of bytes`);
  }
  return Number(value);
}

export function registerMailbox(program: Command): void {
  const mailbox = program.command("mailbox").description("manage PEC boxes");
  mailbox
    .command("add")
    .description("create a box, waiting for its first access unless --active")
    .argument("<address>", "the PEC address (also the login name)")
    .requiredOption("--data <dir>", "data folder")
    .requiredOption("--password <password>", "initial password")
    .option("--active", "create it already activated")
    .option("--quota <bytes>", "quota in bytes (default: mailbox.quotaBytes of the configuration)")
    .action(
      async (address: string, opts: { data: string; password: string; active?: boolean; quota?: string }) => {
        const parsed = parseAddress(address);
        if (!parsed) throw new CliError(`"${address}" is not a valid e-mail address`);
        if (opts.password.length === 0) throw new CliError("--password must not be empty");
        const quota = opts.quota === undefined ? undefined : parseQuota(opts.quota);
        await withStore(opts.data, async (store, { config }) => {
          const hosted = new Set([
            config.provider.domain,
            ...config.provider.domains,
            ...(await store.listDomains()),
          ]);
          if (!hosted.has(parsed.domain)) {
            throw new CliError(
              `domain ${parsed.domain} is not hosted here (hosted: ${[...hosted].join(", ")})`,
            );
          }
          try {
            const box = await store.createMailbox({
              address: parsed.address,
              passwordHash: await hashPassword(opts.password),
              state: opts.active ? "active" : "waiting-first-access",
              quotaBytes: quota ?? config.mailbox.quotaBytes,
            });
            await store.audit({
              actor: "cli",
              action: "mailbox.create",
              target: box.address,
              details: { state: box.state },
            });
            console.log(`created ${box.address} (${box.state}, quota ${box.quotaBytes} bytes)`);
          } catch (err) {
            if (err instanceof StoreError) throw new CliError(err.message);
            throw err;
          }
        });
      },
    );
}
