// `domicilio serve --data DIR`: runs every listener until SIGTERM or SIGINT, then stops cleanly, finishing
// what is in flight, and exits 0.
import type { Command } from "commander";
import { loadConfig } from "../../config/load.js";
import { startRuntime } from "../../runtime/runtime.js";

export async function serveUntilSignal(dataDir: string, onReady?: () => void): Promise<void> {
  const loaded = loadConfig(dataDir);
  const runtime = await startRuntime(loaded);
  onReady?.();
  await new Promise<void>((resolve) => {
    const shutdown = (signal: NodeJS.Signals) => {
      process.off("SIGTERM", shutdown);
      process.off("SIGINT", shutdown);
      console.log(`${signal}: stopping`);
      runtime.stop().then(resolve, (err: unknown) => {
        console.error(`error while stopping: ${(err as Error).message}`);
        process.exitCode = 1;
        resolve();
      });
    };
    process.on("SIGTERM", shutdown);
    process.on("SIGINT", shutdown);
  });
}

export function registerServe(program: Command): void {
  program
    .command("serve")
    .description("run the provider: HTTP, SMTP, IMAP, POP3 and background workers")
    .requiredOption("--data <dir>", "data folder")
    .action(async (opts: { data: string }) => {
      await serveUntilSignal(opts.data);
    });
}
