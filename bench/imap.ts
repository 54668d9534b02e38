// `npm run bench -- imap`: mbsync (isync) downloads the same generated box (thousands of messages, about
// 150 MB with large attachments, nested non-ASCII folders) from `domicilio serve` and from a Dovecot
// (Debian's dovecot-imapd, started here on loopback with a temporary config) in the same run. The ratio
// of the times is the figure. Also prints the memory one idle IDLE connection costs on each server.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { encodeMutf7 } from "../src/mime/mutf7.js";
import { runCli, serve } from "../test/helpers/cli.js";
import { startDovecot } from "../test/helpers/dovecot.js";
import { CORPUS_FOLDERS, type CorpusMessage, generateCorpus } from "../test/helpers/imap-corpus.js";
import { populate } from "../test/helpers/imap-populate.js";
import { RawImap } from "../test/helpers/imap-raw.js";
import { printTable, type Row, writeResults } from "./report.js";

const MESSAGES = Number(process.env.BENCH_IMAP_MESSAGES ?? 3000);
const ATTACH_EVERY = Number(process.env.BENCH_IMAP_ATTACH_EVERY ?? 10);
const ATTACH_BYTES = Number(process.env.BENCH_IMAP_ATTACH_BYTES ?? 350_000);
// Under the per-IP cap (limits.ts: 50), since every connection comes from loopback.
const IDLE_CONNECTIONS = Number(process.env.BENCH_IMAP_IDLE ?? 45);
const USER = "mario.rossi@pec.example.it";
const PASSWORD = "Password-lunga-2026";

function mbsync(dir: string, port: number, name: string): number {
  const local = join(dir, `maildir-${name}`);
  mkdirSync(local, { recursive: true });
  const rc = join(dir, `mbsyncrc-${name}`);
  writeFileSync(
    rc,
    `IMAPAccount a\nHost 127.0.0.1\nPort ${port}\nUser ${USER}\nPass ${PASSWORD}\nSSLType None\nAuthMechs LOGIN\n\n` +
      `IMAPStore r\nAccount a\n\nMaildirStore l\nPath ${local}/\nInbox ${local}/INBOX\nSubFolders Verbatim\n\n` +
      "Channel c\nFar :r:\nNear :l:\nPatterns *\nCreate Near\nSync Pull\nSyncState *\n",
  );
  const started = performance.now();
  const r = spawnSync("mbsync", ["-c", rc, "-a"], { encoding: "utf8" });
  const seconds = (performance.now() - started) / 1000;
  if (r.status !== 0) throw new Error(`mbsync against ${name} failed: ${r.stderr}`);
  const files = execFileSync(
    "find",
    [local, "-type", "f", "(", "-path", "*/cur/*", "-o", "-path", "*/new/*", ")"],
    {
      encoding: "utf8",
    },
  )
    .trim()
    .split("\n");
  if (files.length !== MESSAGES)
    throw new Error(`mbsync got ${files.length} of ${MESSAGES} messages from ${name}`);
  return seconds;
}

async function fillOverImap(port: number, corpus: CorpusMessage[]): Promise<void> {
  const c = await RawImap.open(port);
  await c.cmd(`LOGIN ${USER} "${PASSWORD}"`);
  for (const f of CORPUS_FOLDERS) if (f !== "INBOX") await c.cmd(`CREATE "${encodeMutf7(f)}"`);
  for (let i = 0; i < corpus.length; i += 50) {
    const batch = corpus.slice(i, i + 50);
    for (const m of batch) {
      const date = m.internalDate.toUTCString().split(" ");
      const when = `${date[1]}-${date[2]}-${date[3]} ${date[4]} +0000`;
      c.write(
        Buffer.concat([
          Buffer.from(
            `a APPEND "${encodeMutf7(m.folder)}" (${m.flags.join(" ")}) "${when}" {${m.bytes.length}+}\r\n`,
          ),
          m.bytes,
          Buffer.from("\r\n"),
        ]),
      );
    }
    await c.until(
      (s) => (s.match(/^a OK/gm) ?? []).length >= batch.length || /^a (NO|BAD)/m.test(s),
      120_000,
    );
    const text = c.take();
    if (/^a (NO|BAD)/m.test(text)) throw new Error(`Dovecot refused an APPEND: ${text.slice(0, 300)}`);
  }
  c.close();
}

function rssKb(pid: number): number {
  const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) : 0;
}

/** Sum of the RSS of a process's children named `comm`, in KiB (Dovecot runs one imap process per connection). */
function childrenRssKb(ppid: number, comm: string): number {
  const out = spawnSync("ps", ["--ppid", String(ppid), "-o", "rss=,comm="], { encoding: "utf8" }).stdout;
  return out
    .split("\n")
    .map((l) => l.trim().split(/\s+/))
    .filter((p) => p[1] === comm)
    .reduce((n, p) => n + Number(p[0]), 0);
}

/** Boxes used only for idle connections (the per-box connection cap is 20). */
const IDLE_USERS = Array.from({ length: 10 }, (_, i) => `idle${i}@pec.example.it`);

async function idleConnections(port: number, n: number): Promise<RawImap[]> {
  const out: RawImap[] = [];
  for (let i = 0; i < n; i++) {
    const c = await RawImap.open(port);
    const login = await c.cmd(`LOGIN ${IDLE_USERS[i % IDLE_USERS.length]} "${PASSWORD}"`);
    if (!/^\S+ OK/m.test(login)) throw new Error(`login for an idle connection failed: ${login}`);
    await c.cmd("SELECT INBOX");
    c.write("i IDLE\r\n");
    await c.until((s) => s.includes("+ idling"));
    out.push(c);
  }
  return out;
}

export default async function run(): Promise<void> {
  spawnSync("npm", ["run", "--silent", "build"], { stdio: "inherit" });
  const dir = mkdtempSync(join(tmpdir(), "domicilio-bench-imap-"));
  const corpus = generateCorpus({
    messages: MESSAGES,
    attachmentEvery: ATTACH_EVERY,
    attachmentBytes: ATTACH_BYTES,
  });
  const bytes = corpus.reduce((n, m) => n + m.bytes.length, 0);
  console.log(
    `corpus: ${MESSAGES} messages, ${(bytes / 1e6).toFixed(1)} MB in ${CORPUS_FOLDERS.length} folders`,
  );
  const dataDir = join(dir, "data");
  runCli(["init", "--data", dataDir, "--domain", "pec.example.it", "--provider-name", "Bench"]);
  runCli([
    "mailbox",
    "add",
    USER,
    "--data",
    dataDir,
    "--password",
    PASSWORD,
    "--active",
    "--quota",
    String(10 * 1024 ** 3),
  ]);
  for (const u of IDLE_USERS)
    runCli(["mailbox", "add", u, "--data", dataDir, "--password", PASSWORD, "--active"]);
  await populate(dataDir, USER, corpus);
  const served = await serve(dataDir, {}, ["imap"]);
  const dove = await startDovecot({ users: [USER, ...IDLE_USERS], password: PASSWORD, tls: false });
  try {
    console.log("filling Dovecot over IMAP…");
    await fillOverImap(dove.port, corpus);
    console.log("mbsync runs…");
    const ourPort = served.listening.get("imap")!.port;
    // Interleaved (Dovecot, us, Dovecot, us) so that load from elsewhere hits both alike; best of each.
    const runs = Number(process.env.BENCH_IMAP_RUNS ?? 3);
    const dTimes: number[] = [];
    const oTimes: number[] = [];
    for (let i = 1; i <= runs; i++) {
      dTimes.push(mbsync(dir, dove.port, `dovecot-${i}`));
      oTimes.push(mbsync(dir, ourPort, `domicilio-${i}`));
    }
    const tDove = Math.min(...dTimes);
    const tOurs = Math.min(...oTimes);
    console.log(
      `runs (s): Dovecot ${dTimes.map((x) => x.toFixed(2)).join(" ")}; Domicilio ${oTimes.map((x) => x.toFixed(2)).join(" ")}`,
    );

    console.log(`idle connections (${IDLE_CONNECTIONS} on each server)…`);
    // Memory of idle IDLE connections.
    const ourPid = served.child.pid!;
    const before = rssKb(ourPid);
    const ours = await idleConnections(ourPort, IDLE_CONNECTIONS);
    await new Promise((r) => setTimeout(r, 1000));
    const ourPerConn = ((rssKb(ourPid) - before) * 1024) / IDLE_CONNECTIONS;
    for (const c of ours) c.close();
    const doveMaster = Number(readFileSync(join(dove.dir, "run", "master.pid"), "utf8").trim());
    const dBefore = childrenRssKb(doveMaster, "imap");
    const theirs = await idleConnections(dove.port, IDLE_CONNECTIONS);
    await new Promise((r) => setTimeout(r, 1000));
    const dovePerConn = ((childrenRssKb(doveMaster, "imap") - dBefore) * 1024) / theirs.length;
    for (const c of theirs) c.close();

    const mb = bytes / 1e6;
    const rows: Row[] = [
      {
        server: "Dovecot 2.3",
        messages: MESSAGES,
        MB: mb,
        seconds: tDove,
        "MB/s": mb / tDove,
        "KiB per IDLE conn": dovePerConn / 1024,
      },
      {
        server: "Domicilio",
        messages: MESSAGES,
        MB: mb,
        seconds: tOurs,
        "MB/s": mb / tOurs,
        "KiB per IDLE conn": ourPerConn / 1024,
      },
    ];
    printTable(rows);
    console.log(
      "KiB per IDLE conn: growth of the server's RSS divided by the connections (Dovecot: its imap processes' RSS, shared pages included); rough.",
    );
    console.log(`ratio Domicilio/Dovecot time: ${(tOurs / tDove).toFixed(2)} (lower is better)`);
    writeResults("imap", { rows, ratio: tOurs / tDove });
  } finally {
    await served.stop();
    await dove.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
