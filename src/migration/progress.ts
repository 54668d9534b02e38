// The terminal face of a migration: a progress bar on stderr (only on a terminal), the states as the
// member reads them, and the per-folder table at the end.
import { createRequire } from "node:module";
import type * as CliProgress from "cli-progress";
import type { MigrationEvent, MigrationReport } from "./engine.js";

/** cli-progress only when a bar is drawn: `--json` and `--progress lines` runs never load it. */
const loadCliProgress = () => createRequire(import.meta.url)("cli-progress") as typeof CliProgress;

/**
 * `bar`: a progress bar (terminals only); `lines`: one line per committed batch, for logs and for tests
 * that act at a given point of the copy (`progress DONE/TOTAL messages BYTES/TOTAL bytes FOLDER`).
 */
export function terminalProgress(
  stream: NodeJS.WriteStream = process.stderr,
  mode: "bar" | "lines" = "bar",
): (e: MigrationEvent) => void {
  const tty = stream.isTTY === true;
  if (mode === "lines") {
    return (e) => {
      if (e.type === "state") stream.write(`state ${e.state}${e.error ? ` ${e.error.code}` : ""}\n`);
      else if (e.type === "progress") {
        stream.write(
          `progress ${e.messagesDone}/${e.messagesTotal} messages ${e.bytesDone}/${e.bytesTotal} bytes ${e.folder}\n`,
        );
      } else if (e.type === "message-failed") stream.write(`failed ${e.folder} ${e.uid} ${e.reason}\n`);
    };
  }
  let bar: CliProgress.SingleBar | null = null;
  const mb = (n: number) => (n / 1e6).toFixed(1);
  return (e) => {
    if (e.type === "state") {
      if (bar && e.state !== "copying") {
        bar.stop();
        bar = null;
      }
      stream.write(`${e.label}${e.error ? `: ${e.error.message}` : ""}\n`);
    } else if (e.type === "progress" && tty) {
      if (!bar) {
        const cliProgress = loadCliProgress();
        bar = new cliProgress.SingleBar(
          {
            stream,
            format: " {bar} {percentage}% | {value}/{total} messaggi | {mb}/{mbTotal} MB | {folder}",
            hideCursor: true,
            clearOnComplete: false,
          },
          cliProgress.Presets.shades_classic,
        );
        bar.start(e.messagesTotal, 0, { mb: "0.0", mbTotal: mb(e.bytesTotal), folder: "" });
      }
      bar.update(e.messagesDone, { mb: mb(e.bytesDone), mbTotal: mb(e.bytesTotal), folder: e.folder });
    } else if (e.type === "message-failed") {
      if (bar) bar.stop();
      bar = null;
      stream.write(`  messaggio non copiato in ${e.folder} (UID ${e.uid}): ${e.reason}\n`);
    }
  };
}

export function formatReport(r: MigrationReport): string {
  const rows = [
    ["cartella", "→ nuova", "origine", "copiati", "già presenti", "falliti", "nella nuova", "verificata"],
    ...r.folders.map((f) => [
      f.source,
      f.target,
      String(f.sourceMessages),
      String(f.copied),
      String(f.alreadyPresent),
      String(f.failed),
      String(f.targetMessages),
      f.skipped ? "saltata" : f.verified ? "sì" : "NO",
    ]),
  ];
  const w = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  const lines = rows.map((row) => row.map((c, i) => c.padEnd(w[i]!)).join("  "));
  const t = r.totals;
  lines.push(
    "",
    `Totale: ${t.sourceMessages} messaggi nella vecchia casella, ${t.copied} copiati ` +
      `(${(t.bytes / 1e6).toFixed(1)} MB), ${t.alreadyPresent} già presenti, ${t.failed} falliti, in ${r.seconds.toFixed(1)} s.`,
    r.verified
      ? "Verificato: ogni messaggio della vecchia casella è nella nuova, identico, con i suoi flag."
      : `NON verificato${r.error ? `: ${r.error.message}` : ""}`,
  );
  for (const f of r.folders) for (const e of f.errors ?? []) lines.push(`  ${f.source}: ${e}`);
  return lines.join("\n");
}

/** The report in the shape of contract.md (`--json`), with our extra keys after the contract's. */
export function reportJson(r: MigrationReport): object {
  return {
    folders: r.folders.map((f) => ({
      source: f.source,
      target: f.target,
      sourceMessages: f.sourceMessages,
      copied: f.copied,
      alreadyPresent: f.alreadyPresent,
      failed: f.failed,
      targetMessages: f.targetMessages,
      verified: f.verified,
      ...(f.skipped ? { skipped: f.skipped } : {}),
      ...(f.errors?.length ? { errors: f.errors } : {}),
    })),
    totals: r.totals,
    verified: r.verified,
    seconds: Math.round(r.seconds * 1000) / 1000,
    state: r.state,
    ...(r.error ? { error: r.error } : {}),
    stats: r.stats,
  };
}
