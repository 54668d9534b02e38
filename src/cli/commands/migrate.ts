// Start-up order matters here: the command starts the source thread's preparation first (the old box's
// login, LIST and scan, on that thread) and loads the store (kysely, zod, better-sqlite3: most of the
// start-up) while it runs.
import { createInterface } from "node:readline";
import type { Command } from "commander";
import { parseImapUrl } from "../../migration/endpoint.js";
import { EXIT_CODES, MigrationError } from "../../migration/errors.js";
import type { ImapEndpoint, MigrationTarget } from "../../migration/targets.js";

interface MigrateOptions {
  data: string;
  to: string;
  from: string;
  insecureTls?: boolean;
  json?: boolean;
  mirror?: boolean;
  connections?: string;
  batch?: string;
  progress?: string;
}

async function askPassword(prompt: string): Promise<string> {
  if (!process.stdin.isTTY) {
    throw new MigrationError(
      "INVALID_SOURCE",
      "Manca la password della vecchia casella: impostala in DOMICILIO_SOURCE_PASSWORD.",
    );
  }
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
  const out = rl as unknown as { _writeToOutput: (s: string) => void; output: NodeJS.WriteStream };
  let muted = false;
  out._writeToOutput = (s: string) => {
    if (!muted || s.includes("\n")) process.stderr.write(muted ? "\n" : s);
  };
  return new Promise((resolve) => {
    rl.question(prompt, (answer) => {
      rl.close();
      resolve(answer);
    });
    muted = true;
  });
}

export function registerMigrate(program: Command): void {
  program
    .command("migrate")
    .description("copy every folder of an old box (IMAP) into a box here, verified; safe to run again")
    .requiredOption("--data <dir>", "data folder")
    .requiredOption("--to <address>", "the box here (or imap[s]://USER@HOST:PORT for another server)")
    .requiredOption(
      "--from <url>",
      "the old box: imap[s]://USER@HOST:PORT, or its address when a preset knows it",
    )
    .option("--insecure-tls", "accept a self-signed certificate on the old server")
    .option("--json", "print the report as one JSON object")
    .option("--mirror", "also delete here what was deleted in the old box since the last run")
    .option("--connections <n>", "parallel connections to the old server", "4")
    .option("--batch <n>", "messages per transaction in the box", "100")
    .option("--progress <mode>", "bar (on a terminal), lines (one per batch, on stderr) or none")
    .action(async (opts: MigrateOptions) => {
      const startedAt = performance.now();
      const fail = (err: MigrationError) => {
        if (opts.json) {
          console.log(
            JSON.stringify({
              folders: [],
              totals: { sourceMessages: 0, copied: 0, alreadyPresent: 0, failed: 0, bytes: 0 },
              verified: false,
              seconds: 0,
              state: "error",
              error: { code: err.code, message: err.message },
            }),
          );
        } else console.error(err.message);
        process.exitCode = err.exitCode;
      };
      let src: ReturnType<typeof parseImapUrl>;
      try {
        src = parseImapUrl(opts.from);
      } catch (err) {
        return fail(err as MigrationError);
      }
      const password =
        process.env.DOMICILIO_SOURCE_PASSWORD ??
        (await askPassword(`Password di ${src.user}: `).catch((e) => e as MigrationError));
      if (password instanceof MigrationError) return fail(password);
      let imapTarget: ImapEndpoint | null = null;
      if (/^imaps?:\/\//i.test(opts.to)) {
        const tpw = process.env.DOMICILIO_TARGET_PASSWORD;
        if (tpw === undefined) {
          return fail(
            new MigrationError(
              "INVALID_SOURCE",
              "Manca la password di destinazione: DOMICILIO_TARGET_PASSWORD.",
            ),
          );
        }
        imapTarget = { ...parseImapUrl(opts.to), password: tpw, insecureTls: opts.insecureTls === true };
      }

      const source = { ...src, password, insecureTls: opts.insecureTls === true };
      const connections = Number(opts.connections ?? 4);
      if (!Number.isInteger(connections) || connections < 1 || connections > 32) {
        return fail(new MigrationError("INVALID_SOURCE", "--connections vuole un numero intero da 1 a 32."));
      }
      // The source thread boots and prepares (login, LIST, plan, scan of every folder: SourceThread.
      // prepare) while this thread loads the store's modules, most of the start-up.
      const { SourceThread } = await import("../../migration/source-thread.js");
      const thread = new SourceThread();
      const early = { thread, ...thread.prepare(source, connections - 1) };
      // runMigration awaits it and reports a failure (wrong password, unreachable) as before; until
      // then a rejection must not count as unhandled. Any error thrown before runMigration ends the
      // process (bin/domicilio.js), connections and thread included.
      early.prepared.catch(() => {});
      const [{ loadConfig }, { openStore }, { runMigration }, { Ledger }, progress, targets] =
        await Promise.all([
          import("../../config/load.js"),
          import("../../store/open.js"),
          import("../../migration/engine.js"),
          import("../../migration/ledger.js"),
          import("../../migration/progress.js"),
          import("../../migration/targets.js"),
        ]);
      const { formatReport, reportJson, terminalProgress } = progress;
      const loaded = loadConfig(opts.data);
      const store = await openStore({ dataDir: loaded.dataDir, config: loaded.config });
      try {
        const target: MigrationTarget = imapTarget
          ? new targets.ImapTarget(imapTarget)
          : new targets.StoreTarget(store, opts.to.trim().toLowerCase());
        const progressMode = (opts.progress ?? (opts.json ? "none" : "bar")) as "bar" | "lines" | "none";
        // The ledger lives in the store's own database, on the store's own connection: a second
        // SQLite connection in this process would wait for the first's write lock synchronously (busy
        // timeout) while that lock's transaction waits for this thread, "database is locked" after 10 s.
        const ledger = await Ledger.open(store.kysely, {
          source: `${src.user.toLowerCase()}@${src.host}:${src.port}`,
          target: target.id,
        });
        const report = await runMigration({
          source,
          early,
          startedAt,
          target,
          ledger,
          mirror: opts.mirror === true,
          connections,
          batchMessages: Number(opts.batch ?? 100) || 100,
          ...(progressMode === "none" ? {} : { onEvent: terminalProgress(process.stderr, progressMode) }),
        });
        if (opts.json) console.log(JSON.stringify(reportJson(report)));
        else console.log(formatReport(report));
        process.exitCode = report.verified
          ? 0
          : report.error && report.error.code in EXIT_CODES
            ? EXIT_CODES[report.error.code as keyof typeof EXIT_CODES]
            : 1;
      } finally {
        await store.close();
      }
    });
}
