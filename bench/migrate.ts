// `npm run bench -- migrate`: the same generated box (~2,000 messages, ~140 MB, test/fixtures/corpus.ts)
// copied from the same Dovecot by Domicilio (`domicilio migrate`, IMAP → store) and by mbsync (Debian's
// isync, IMAP → IMAP into a second account of that Dovecot), one after the other in one run. Figures:
// messages/s, MB/s, peak memory (VmHWM of the process), and the ratio Domicilio / mbsync.
// Our bar is Dovecot's own migrator (dsync over imapc, about 5× imapsync) with flat memory: it is
// measured in the same run too (`doveadm backup -R` into a third account). Peak memory is the largest
// resident size of the process tree, sampled every 20 ms; CPU s its CPU time (user + system) at the last
// sample. The source Dovecot's own CPU (serving the reads) is in neither tool's figure.
// BENCH_MIGRATE_SCALE scales the box (default 1); BENCH_NODE_ARGS adds options to our copies' node
// (e.g. "--cpu-prof --cpu-prof-dir=DIR", which NODE_OPTIONS refuses).
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ImapFlow } from "imapflow";
import { loadConfig } from "../src/config/load.js";
import { writeCorpus } from "../test/fixtures/corpus.js";
import { REPO_ROOT, runCli } from "../test/helpers/cli.js";
import { startDovecot } from "../test/helpers/dovecot.js";
import { printTable, type Row, writeResults } from "./report.js";

const SCALE = Number(process.env.BENCH_MIGRATE_SCALE ?? 1);
/** The target Dovecot's mail_fsync: "optimized" is Dovecot's default and fsyncs every saved message. */
const DOVECOT_FSYNC = "optimized";

interface Measured {
  seconds: number;
  peakRssMb: number;
  /** CPU time of the process tree (user + system) at its last sample, up to 20 ms before it ended. */
  cpuSeconds: number;
  status: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Resident memory of a process and all its descendants (runuser → doveadm → its helpers), in MB, and
 * their CPU time (user + system, children already reaped included), in seconds.
 */
function treeUsage(pid: number): { rssMb: number; cpuSeconds: number } {
  let kb = 0;
  let ticks = 0;
  const walk = (p: number) => {
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${p}/status`, "utf8"));
      if (m) kb += Number(m[1]);
      // proc(5): fields 14–17 are utime, stime, cutime, cstime, in clock ticks (100 a second on Linux).
      const stat = readFileSync(`/proc/${p}/stat`, "utf8");
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      ticks += Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
      for (const c of readFileSync(`/proc/${p}/task/${p}/children`, "utf8").trim().split(/\s+/)) {
        if (c) walk(Number(c));
      }
    } catch {
      // gone
    }
  };
  walk(pid);
  return { rssMb: kb / 1024, cpuSeconds: ticks / 100 };
}

/** Runs a command, sampling the peak resident memory of it and its children until it exits. */
function measure(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<Measured> {
  const started = performance.now();
  const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => {
    stdout += d;
  });
  child.stderr.on("data", (d) => {
    stderr += d;
  });
  let peak = 0;
  let cpu = 0;
  const sample = () => {
    const u = treeUsage(child.pid!);
    peak = Math.max(peak, u.rssMb);
    cpu = Math.max(cpu, u.cpuSeconds);
  };
  const timer = setInterval(sample, 20);
  return new Promise((resolve) => {
    child.on("exit", () => sample());
    child.on("close", (status) => {
      clearInterval(timer);
      resolve({
        seconds: (performance.now() - started) / 1000,
        peakRssMb: peak,
        cpuSeconds: cpu,
        status,
        stdout,
        stderr,
      });
    });
  });
}

async function countMessages(host: string, port: number, user: string, pass: string): Promise<number> {
  const c = new ImapFlow({
    host,
    port,
    secure: false,
    auth: { user, pass },
    logger: false,
    tls: { rejectUnauthorized: false },
  });
  await c.connect();
  let n = 0;
  for (const f of await c.list({ statusQuery: { messages: true } })) n += f.status?.messages ?? 0;
  await c.logout();
  return n;
}

export default async function run(): Promise<void> {
  const dc = await startDovecot({
    users: ["src", "dst", "dsync", "small"],
    tls: false,
    fsync: DOVECOT_FSYNC,
  });
  const work = mkdtempSync(join(tmpdir(), "domicilio-bench-migrate-"));
  try {
    const corpus = await writeCorpus(dc.maildir("src"), { scale: SCALE });
    // A quarter of the box, other seed: peak memory should not grow with the size of the box.
    const small = await writeCorpus(dc.maildir("small"), { scale: SCALE / 4, seed: 7 });
    await dc.fixOwnership();
    const mb = corpus.bytes / 1e6;
    console.log(`box: ${corpus.messages} messages, ${mb.toFixed(1)} MB in ${corpus.folders.length} folders`);
    // Warm Dovecot's index and the page cache once, so neither tool pays for the other's first read.
    await countMessages(dc.host, dc.port, "src", dc.password);

    // Domicilio: IMAP → store, through the real command.
    const data = join(work, "data");
    if (
      runCli(["init", "--data", data, "--domain", "pec.example.it", "--provider-name", "Bench"]).status !== 0
    )
      throw new Error("init failed");
    const add = runCli([
      "mailbox",
      "add",
      "mario@pec.example.it",
      "--data",
      data,
      "--password",
      "x",
      "--active",
      "--quota",
      "10000000000",
    ]);
    if (add.status !== 0) throw new Error(`mailbox add failed: ${add.stderr}`);
    const bin = join(REPO_ROOT, "bin", "domicilio.js");
    const args = [
      "migrate",
      "--data",
      data,
      "--to",
      "mario@pec.example.it",
      "--from",
      dc.url("src"),
      "--json",
    ];
    const env = { DOMICILIO_SOURCE_PASSWORD: dc.password };
    const nodeArgs = (process.env.BENCH_NODE_ARGS ?? "").split(" ").filter(Boolean);
    const ours = await measure(process.execPath, [...nodeArgs, bin, ...args], env);
    const report = JSON.parse(ours.stdout.trim().split("\n").pop() ?? "{}");
    if (ours.status !== 0 || !report.verified)
      throw new Error(`domicilio migrate failed: ${ours.stderr}${ours.stdout.slice(0, 500)}`);
    const resync = await measure(process.execPath, [bin, ...args], env);
    const smallArgs = [
      "migrate",
      "--data",
      data,
      "--to",
      "small@pec.example.it",
      "--from",
      dc.url("small"),
      "--json",
    ];
    if (
      runCli(["mailbox", "add", "small@pec.example.it", "--data", data, "--password", "x", "--active"])
        .status !== 0
    )
      throw new Error("mailbox add small failed");
    const quarter = await measure(process.execPath, [bin, ...smallArgs], env);
    if (quarter.status !== 0) throw new Error(`small migrate failed: ${quarter.stderr}`);
    const resyncReport = JSON.parse(resync.stdout.trim().split("\n").pop() ?? "{}");

    // mbsync: IMAP → IMAP into another account of the same Dovecot (the Debian isync package).
    const rc = join(work, "mbsyncrc");
    const state = join(work, "mbsync-state");
    rmSync(state, { recursive: true, force: true });
    writeFileSync(
      rc,
      `IMAPAccount src
Host ${dc.host}
Port ${dc.port}
User src
Pass ${dc.password}
SSLType None
AuthMechs LOGIN

IMAPStore src
Account src

IMAPAccount dst
Host ${dc.host}
Port ${dc.port}
User dst
Pass ${dc.password}
SSLType None
AuthMechs LOGIN

IMAPStore dst
Account dst

Channel copy
Far :src:
Near :dst:
Patterns *
Create Near
Sync Pull
Expunge None
CopyArrivalDate yes
SyncState ${state}/
`,
    );
    const theirs = await measure("mbsync", ["-c", rc, "-a", "-q"]);
    if (theirs.status !== 0) throw new Error(`mbsync failed: ${theirs.stderr}`);
    const theirCount = await countMessages(dc.host, dc.port, "dst", dc.password);

    // Dovecot's own migrator: dsync pulling over imapc (doveadm backup -R), the bar we aim at.
    const [dcmd, dargs] = dc.doveadmCommand([
      "-o",
      `imapc_host=${dc.host}`,
      "-o",
      `imapc_port=${dc.port}`,
      "-o",
      "imapc_user=src",
      "-o",
      `imapc_password=${dc.password}`,
      "-o",
      "imapc_features=rfc822.size fetch-headers",
      "-o",
      "mail_prefetch_count=20",
      "backup",
      "-R",
      "-u",
      "dsync",
      "imapc:",
    ]);
    const dsync = await measure(dcmd, dargs);
    if (dsync.status !== 0) throw new Error(`doveadm backup failed: ${dsync.stderr}`);
    const dsyncCount = await countMessages(dc.host, dc.port, "dsync", dc.password);

    const row = (tool: string, n: number, m: Measured): Row => ({
      tool,
      messages: n,
      MB: Number(mb.toFixed(1)),
      seconds: Number(m.seconds.toFixed(2)),
      "msg/s": Math.round(n / m.seconds),
      "MB/s": Number((mb / m.seconds).toFixed(1)),
      "peak RSS MB": Math.round(m.peakRssMb),
      "CPU s": Number(m.cpuSeconds.toFixed(2)),
    });
    const rows: Row[] = [
      row("domicilio migrate (IMAP → store)", report.totals.copied, ours),
      row("mbsync 1.4 (IMAP → IMAP)", theirCount, theirs),
      row("dovecot dsync over imapc (IMAP → Maildir)", dsyncCount, dsync),
      {
        tool: "speed ratio domicilio / mbsync",
        messages: "",
        MB: "",
        seconds: "",
        "msg/s": Number((theirs.seconds / ours.seconds).toFixed(2)),
        "MB/s": Number((theirs.seconds / ours.seconds).toFixed(2)),
        "peak RSS MB": "",
        "CPU s": "",
      },
      {
        tool: "speed ratio domicilio / dsync",
        messages: "",
        MB: "",
        seconds: "",
        "msg/s": Number((dsync.seconds / ours.seconds).toFixed(2)),
        "MB/s": Number((dsync.seconds / ours.seconds).toFixed(2)),
        "peak RSS MB": "",
        "CPU s": "",
      },
      {
        tool: `domicilio, a box 1/4 the size (${(small.bytes / 1e6).toFixed(0)} MB)`,
        messages: small.messages,
        MB: Number((small.bytes / 1e6).toFixed(1)),
        seconds: Number(quarter.seconds.toFixed(2)),
        "msg/s": Math.round(small.messages / quarter.seconds),
        "MB/s": Number((small.bytes / 1e6 / quarter.seconds).toFixed(1)),
        "peak RSS MB": Math.round(quarter.peakRssMb),
        "CPU s": Number(quarter.cpuSeconds.toFixed(2)),
      },
      {
        tool: "domicilio re-run, nothing new",
        messages: resyncReport.totals?.copied ?? -1,
        MB: 0,
        seconds: Number(resync.seconds.toFixed(2)),
        "msg/s": "",
        "MB/s": "",
        "peak RSS MB": Math.round(resync.peakRssMb),
        "CPU s": Number(resync.cpuSeconds.toFixed(2)),
      },
    ];
    printTable(rows);
    // Durability, so the speeds compare like with like: every tool makes each message durable.
    const blobs = loadConfig(data).config.blobs;
    const ourFsync = blobs.fsync;
    console.log(
      `durability: domicilio blobs.fsync=${ourFsync}: messages up to ${blobs.inlineMaxBytes} bytes ride in ` +
        "the SQLite commit of their rows, larger ones are files fsynced (then their directory) before it; a " +
        "commit is reported only after an fsync of the WAL, and the ledger row only after that. Target " +
        `Dovecot for mbsync and dsync mail_fsync=${DOVECOT_FSYNC} (Maildir: each message file fsynced, then ` +
        "the folder's directory).",
    );
    console.log(
      "(times include process start: ~0.5 s of Node start-up and store opening for domicilio; the re-run " +
        `fetched ${resyncReport.stats?.bodiesFetched ?? "?"} bodies)`,
    );
    writeResults("migrate", {
      corpus: { messages: corpus.messages, bytes: corpus.bytes, folders: corpus.folders.length },
      domicilio: { ...rows[0], engineSeconds: report.seconds },
      mbsync: rows[1],
      dsync: rows[2],
      ratio: theirs.seconds / ours.seconds,
      ratioDsync: dsync.seconds / ours.seconds,
      durability: {
        domicilioBlobFsync: ourFsync,
        domicilioInlineMaxBytes: blobs.inlineMaxBytes,
        dovecotMailFsync: DOVECOT_FSYNC,
      },
      resync: {
        seconds: resync.seconds,
        engineSeconds: resyncReport.seconds,
        copied: resyncReport.totals?.copied,
      },
    });
  } finally {
    await dc.stop();
    rmSync(work, { recursive: true, force: true });
  }
}
