// What the migration tests share: a Dovecot with a generated source box, and a Domicilio data folder
// (created with the real CLI) holding the target box.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ImapFlow } from "imapflow";
import { loadConfig } from "../../src/config/load.js";
import { openStore } from "../../src/store/open.js";
import type { SqlMailStore } from "../../src/store/sql-mail-store.js";
import { type CorpusOptions, type CorpusSummary, writeCorpus } from "../fixtures/corpus.js";
import { REPO_ROOT, runCli, serve } from "./cli.js";
import { type Dovecot, type DovecotOptions, startDovecot } from "./dovecot.js";
import { compareMailboxes, imapSide, type MailboxSide, type MessageKey, storeSide } from "./imap-compare.js";

export const TARGET = "mario.rossi@pec.example.it";
/** The target box's password (set by createTarget), for reading it over IMAP. */
export const TARGET_PASSWORD = "secret";

export interface SourceBox {
  dc: Dovecot;
  corpus: CorpusSummary;
  /** Source folder name ("/"-separated, as the oracle reads it) → expected target folder. */
  mapName(name: string): string;
}

/** A mail program's session on the source box (imapflow, logged in as `src`), as the member's own would be. */
export async function sourceClient(dc: Dovecot): Promise<ImapFlow> {
  const c = new ImapFlow({
    host: dc.host,
    port: dc.port,
    secure: false,
    auth: { user: "src", pass: dc.password },
    logger: false,
    tls: { rejectUnauthorized: false },
  });
  await c.connect();
  return c;
}

/** A Dovecot whose `src` user holds the corpus, every folder but "Vuota" subscribed. */
export async function startSource(corpus: CorpusOptions, dovecot: DovecotOptions = {}): Promise<SourceBox> {
  const dc = await startDovecot({ users: ["src", "dst"], aruba: corpus.aruba === true, ...dovecot });
  let summary: CorpusSummary;
  try {
    summary = await writeCorpus(dc.maildir("src"), corpus);
    await dc.fixOwnership();
  } catch (err) {
    await dc.stop();
    throw err;
  }
  const c = await sourceClient(dc);
  for (const f of await c.list()) {
    if (!f.path.endsWith("Vuota") && !f.flags.has("\\Noselect")) await c.mailboxSubscribe(f.path);
  }
  await c.logout();
  const byName = new Map<string, string>();
  for (const f of summary.folders) {
    const listed =
      f.path[0] === "INBOX" && f.path.length === 1 ? "INBOX" : `${dc.prefix}${f.path.join(dc.separator)}`;
    byName.set(listed.split(dc.separator).join("/"), f.expectedTarget);
  }
  return { dc, corpus: summary, mapName: (n) => byName.get(n) ?? n };
}

export interface TargetEnv {
  dataDir: string;
  close(): void;
}

/** `domicilio init` + `domicilio mailbox add TARGET --active` in a temporary data folder. */
export function createTarget(options: { quota?: number } = {}): TargetEnv {
  const dataDir = mkdtempSync(join(tmpdir(), "domicilio-migration-"));
  const init = runCli(["init", "--data", dataDir, "--domain", "pec.example.it", "--provider-name", "Test"]);
  if (init.status !== 0) throw new Error(`init failed: ${init.stderr}`);
  const add = runCli([
    "mailbox",
    "add",
    TARGET,
    "--data",
    dataDir,
    "--password",
    TARGET_PASSWORD,
    "--active",
    "--quota",
    String(options.quota ?? 2_000_000_000),
  ]);
  if (add.status !== 0) throw new Error(`mailbox add failed: ${add.stderr}`);
  return { dataDir, close: () => rmSync(dataDir, { recursive: true, force: true }) };
}

export async function withStore<T>(dataDir: string, fn: (store: SqlMailStore) => Promise<T>): Promise<T> {
  const loaded = loadConfig(dataDir);
  const store = await openStore({ dataDir: loaded.dataDir, config: loaded.config });
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

export interface MigrateResult {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  // biome-ignore lint/suspicious/noExplicitAny: the contract's JSON, checked by the tests
  json: any;
}

/**
 * Runs `domicilio migrate … --json` as a user would. `killAfterMs` sends SIGKILL at that moment;
 * `killAtProgress: { lines, thenMs }` sends it `thenMs` after the n-th `progress` line (`--progress lines`),
 * i.e. at a chosen point of the copy whatever the machine's speed.
 */
export function migrate(
  args: { dataDir: string; from: string; to?: string; password?: string; extra?: string[] },
  options: {
    killAfterMs?: number;
    killAtProgress?: { lines: number; thenMs: number };
    env?: NodeJS.ProcessEnv;
  } = {},
): Promise<MigrateResult> {
  const child = spawn(
    process.execPath,
    [
      join(REPO_ROOT, "bin", "domicilio.js"),
      "migrate",
      "--data",
      args.dataDir,
      "--to",
      args.to ?? TARGET,
      "--from",
      args.from,
      "--json",
      ...(args.extra ?? []),
    ],
    {
      env: { ...process.env, DOMICILIO_SOURCE_PASSWORD: args.password ?? "pass", ...options.env },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => {
    stdout += d;
  });
  let progressLines = 0;
  child.stderr.on("data", (d) => {
    stderr += d;
    const kill = options.killAtProgress;
    if (!kill) return;
    const before = progressLines;
    progressLines = (stderr.match(/^progress /gm) ?? []).length;
    if (before < kill.lines && progressLines >= kill.lines) {
      setTimeout(() => child.kill("SIGKILL"), kill.thenMs);
    }
  });
  const timer =
    options.killAfterMs !== undefined ? setTimeout(() => child.kill("SIGKILL"), options.killAfterMs) : null;
  return new Promise((resolve) => {
    child.on("close", (status, signal) => {
      if (timer) clearTimeout(timer);
      let json: unknown = null;
      try {
        json = JSON.parse(stdout.trim().split("\n").pop() ?? "");
      } catch {
        // killed, or not JSON
      }
      resolve({ status, signal, stdout, stderr, json });
    });
  });
}

/**
 * The oracle, as the issue asks: a real `domicilio serve` is started on the data folder and both sides are
 * read over IMAP (bytes hashed, flags and keywords, INTERNALDATE), folder by folder. The box is then read
 * once more straight from the store (bytes re-hashed from the blobs): a fault of the IMAP server hiding a
 * fault of the store (or the reverse) would have to be the same on both paths to go unseen. The source is
 * read only once for both comparisons.
 */
export async function compareWithTarget(src: SourceBox, dataDir: string): Promise<string[]> {
  const a = cachedSide(imapSide({ url: src.dc.url("src"), password: src.dc.password }));
  const problems: string[] = [];
  try {
    const served = await serve(dataDir, {}, ["imaps"]);
    try {
      const { port } = served.listening.get("imaps")!;
      const ours = imapSide({
        url: `imaps://${encodeURIComponent(TARGET)}@127.0.0.1:${port}`,
        password: TARGET_PASSWORD,
        label: "domicilio serve (IMAP)",
      });
      try {
        const diff = await compareMailboxes(a, ours, { mapName: src.mapName });
        problems.push(...diff.problems.map((p) => `over IMAP: ${p}`));
      } finally {
        await ours.close();
      }
    } finally {
      const code = await served.stop();
      if (code !== 0) problems.push(`domicilio serve exited with ${code}: ${served.output().slice(-2000)}`);
    }
    await withStore(dataDir, async (store) => {
      const box = await store.getMailbox(TARGET);
      const diff = await compareMailboxes(a, storeSide(store, box!.id), { mapName: src.mapName });
      problems.push(...diff.problems.map((p) => `in the store: ${p}`));
    });
  } finally {
    await a.close();
  }
  return problems;
}

/** A side whose folders and messages are read once, then served from memory (only keys are kept). */
function cachedSide(side: MailboxSide): MailboxSide {
  let folders: Promise<string[]> | null = null;
  const messages = new Map<string, Promise<MessageKey[]>>();
  return {
    label: side.label,
    folders() {
      folders ??= side.folders();
      return folders;
    },
    messages(folder) {
      let m = messages.get(folder);
      if (!m) {
        m = side.messages(folder);
        messages.set(folder, m);
      }
      return m;
    },
    close: () => side.close(),
  };
}
