// `npm run bench -- pec-service`: certified messages per second end to end through a real `domicilio
// serve` (built dist/): submission over SMTP (STARTTLS, AUTH, 16 connections) → access point (acceptance
// + envelope, signed) → delivery point (envelope into the box + delivery receipt, signed) → receipts in
// the sender's box. A message counts when its delivery receipt is stored. Beside it, the peer measured in
// the same run: raw RSA-2048 SHA-256 signatures per second on one core (node:crypto), and what it
// allows at three signatures per message on the cores of the machine.
// The client shares the server's two cores: by default a lean pipelining load generator
// (smtp-load.ts, as Postfix's smtp-source is for MTAs), BENCH_PEC_CLIENT=nodemailer for nodemailer's
// pool. A warm-up of 3,000 messages runs first, outside the clock and the CPU counts: V8 compiles the
// hot code of two threads for several seconds, and a server's steady state is what is measured. Then
// three timed rounds of 5,000 messages; the first line is the median round.
// Knobs for experiments: BENCH_PEC_MESSAGES (per round), BENCH_PEC_ROUNDS, BENCH_PEC_WARMUP,
// BENCH_PEC_CONNECTIONS, BENCH_PEC_WORKERS (pec.workers), BENCH_INLINE_MAX (blobs.inlineMaxBytes, 0:
// every blob a file), BENCH_NODE_ARGS (e.g. --cpu-prof for serve), BENCH_NO_BUILD (use dist/ as it is).
import { spawn, spawnSync } from "node:child_process";
import { randomBytes, sign } from "node:crypto";
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import nodemailer from "nodemailer";
import { ensureProviderKeys } from "../src/pec/provider-keys.js";
import { printTable, type Row, writeResults } from "./report.js";
import { dataForWire, SubmissionLoad } from "./smtp-load.js";

const MESSAGES = Number(process.env.BENCH_PEC_MESSAGES ?? 5000);
const CONNECTIONS = Number(process.env.BENCH_PEC_CONNECTIONS ?? 16);
const ROUNDS = Math.max(1, Number(process.env.BENCH_PEC_ROUNDS ?? 3));
const CLIENT = process.env.BENCH_PEC_CLIENT === "nodemailer" ? "nodemailer" : "lean";
const BIN = join(import.meta.dirname, "..", "bin", "domicilio.js");

function cli(args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`domicilio ${args.join(" ")}: ${r.stderr}`);
}

/**
 * CPU seconds (user + system) a process has used so far, every thread, or only its main thread (the
 * event loop) with `task`: Linux /proc, 0 elsewhere.
 */
function cpuSeconds(pid: number | undefined, task?: number): number {
  try {
    const path = task === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${task}/stat`;
    const fields = readFileSync(path, "utf8").split(") ")[1]!.split(" ");
    // utime and stime are fields 14 and 15 of proc(5), counted from the state field (3rd) here.
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

/** One timed round: its wall time, the time until the last 250, and the CPU each side used. */
interface Round {
  seconds: number;
  submitSeconds: number;
  serveCpu: number;
  loopCpu: number;
  clientCpu: number;
}

function rawRsaPerSecond(key: import("node:crypto").KeyObject, ms = 1500): number {
  const block = randomBytes(1024);
  for (let i = 0; i < 20; i++) sign("sha256", block, key);
  let n = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < ms) {
    sign("sha256", block, key);
    n++;
  }
  return (n * 1000) / (performance.now() - t0);
}

export default async function run(): Promise<void> {
  const build = process.env.BENCH_NO_BUILD
    ? { status: 0 }
    : spawnSync("npm", ["run", "--silent", "build"], { stdio: "inherit" });
  if (build.status !== 0) throw new Error("build failed");
  const dir = mkdtempSync(join(tmpdir(), "domicilio-bench-svc-"));
  const data = join(dir, "data");
  const domain = "pec.bench.it";
  let child: ReturnType<typeof spawn> | null = null;
  try {
    cli(["init", "--data", data, "--domain", domain, "--provider-name", "Bench PEC"]);
    appendFileSync(
      join(data, "domicilio.toml"),
      `\n[smtp]\nsubmissionsPerMinute = 1000000\n${process.env.BENCH_PEC_WORKERS ? `[pec]\nworkers = ${process.env.BENCH_PEC_WORKERS}\n` : ""}${process.env.BENCH_INLINE_MAX ? `[blobs]\ninlineMaxBytes = ${process.env.BENCH_INLINE_MAX}\n` : ""}`,
    );
    cli(["mailbox", "add", `mittente@${domain}`, "--data", data, "--password", "Segreto-2024", "--active"]);
    cli([
      "mailbox",
      "add",
      `destinatario@${domain}`,
      "--data",
      data,
      "--password",
      "Segreto-2024",
      "--active",
    ]);
    const keys = await ensureProviderKeys(data, { name: "Bench PEC", domain });
    const rsaBefore = rawRsaPerSecond(keys.signer.key);

    const env: NodeJS.ProcessEnv = { ...process.env, DOMICILIO_BIND: "127.0.0.1" };
    for (const p of ["HTTP", "SMTP", "SUBMISSION", "SUBMISSIONS", "IMAP", "IMAPS", "POP3", "POP3S"])
      env[`DOMICILIO_${p}_PORT`] = "0";
    const nodeArgs = (process.env.BENCH_NODE_ARGS ?? "").split(" ").filter(Boolean);
    const c = spawn(process.execPath, [...nodeArgs, BIN, "serve", "--data", data], {
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    child = c;
    const port = await new Promise<number>((resolve, reject) => {
      let out = "";
      c.stdout!.on("data", (d: Buffer) => {
        out += d.toString();
        const m = /^listening submission \S+:(\d+)$/m.exec(out);
        if (m) resolve(Number(m[1]));
      });
      c.stderr!.on("data", (d: Buffer) => process.stderr.write(d));
      c.once("exit", (code) => reject(new Error(`serve exited ${code}`)));
    });

    const db = new Database(join(data, "domicilio.sqlite"), { readonly: true });
    const receipts = db.prepare(
      "select count(*) as n from messages m join mailboxes b on b.id = m.mailbox_id where b.address = ? and m.pec_type = 'avvenuta-consegna'",
    );
    const transport = nodemailer.createTransport({
      pool: true,
      maxConnections: CONNECTIONS,
      maxMessages: Number.POSITIVE_INFINITY,
      host: "127.0.0.1",
      port,
      auth: { user: `mittente@${domain}`, pass: "Segreto-2024" },
      tls: { rejectUnauthorized: false },
    });
    const body = `Buongiorno,\r\nin allegato la fattura.\r\n${"Testo della comunicazione. ".repeat(40)}\r\n`;
    // The messages are written before the clock starts and handed to nodemailer whole (`raw`): the load
    // generator shares the server's cores, and composing MIME on every send was CPU the server lost.
    // A warm-up round first, outside the clock: a server's steady state, not V8 compiling its hot code.
    const WARMUP = Number(process.env.BENCH_PEC_WARMUP ?? 3000);
    const raws = Array.from({ length: WARMUP + ROUNDS * MESSAGES }, (_, i) =>
      Buffer.from(
        [
          `From: mittente@${domain}`,
          `To: destinatario@${domain}`,
          `Subject: Bench ${i}`,
          `Message-ID: <bench.${i}.${process.pid}@client.example>`,
          `Date: ${new Date().toUTCString().replace("GMT", "+0000")}`,
          "MIME-Version: 1.0",
          "Content-Type: text/plain; charset=utf-8",
          "Content-Transfer-Encoding: 8bit",
          "",
          body,
        ].join("\r\n"),
      ),
    );
    const receiptsNow = () => (receipts.get(`mittente@${domain}`) as { n: number }).n;
    const lean =
      CLIENT === "lean"
        ? await SubmissionLoad.open({
            host: "127.0.0.1",
            port,
            user: `mittente@${domain}`,
            pass: "Segreto-2024",
            connections: CONNECTIONS,
          })
        : null;
    // Dot-stuffed for the wire before the clock starts too.
    const wire = lean
      ? raws.map((raw) => ({
          from: `mittente@${domain}`,
          to: [`destinatario@${domain}`],
          data: dataForWire(raw),
        }))
      : [];
    const send = async (from: number, to: number, onSent: () => void) => {
      if (lean) {
        await lean.send(wire.slice(from, to), onSent);
        return;
      }
      await Promise.all(
        raws
          .slice(from, to)
          .map((raw) =>
            transport
              .sendMail({ envelope: { from: `mittente@${domain}`, to: [`destinatario@${domain}`] }, raw })
              .then(onSent),
          ),
      );
    };
    await send(0, WARMUP, () => {});
    while (receiptsNow() < WARMUP) await new Promise((r) => setTimeout(r, 20));
    // Several rounds on the same server, each timed on its own: this machine's speed moves by a tenth
    // or more within a minute (the RSA peer below moves too), and the median says more than one run.
    const rounds: Round[] = [];
    for (let k = 0; k < ROUNDS; k++) {
      const before = WARMUP + k * MESSAGES;
      const cpu0 = cpuSeconds(c.pid);
      const loop0 = cpuSeconds(c.pid, c.pid);
      const clientCpu0 = process.cpuUsage();
      const t0 = performance.now();
      await send(before, before + MESSAGES, () => {});
      const submitted = performance.now();
      for (;;) {
        const n = receiptsNow() - before;
        if (n >= MESSAGES) break;
        if (performance.now() - t0 > 600_000)
          throw new Error(`only ${n} of ${MESSAGES} receipts after 10 minutes`);
        await new Promise((r) => setTimeout(r, 20));
      }
      const clientUsage = process.cpuUsage(clientCpu0);
      rounds.push({
        seconds: (performance.now() - t0) / 1000,
        submitSeconds: (submitted - t0) / 1000,
        serveCpu: cpuSeconds(c.pid) - cpu0,
        loopCpu: cpuSeconds(c.pid, c.pid) - loop0,
        clientCpu: (clientUsage.user + clientUsage.system) / 1e6,
      });
    }
    transport.close();
    await lean?.close();
    db.close();
    c.kill("SIGTERM");
    await new Promise((r) => c.once("exit", r));
    child = null;
    const rsaAfter = rawRsaPerSecond(keys.signer.key);
    const rsa = (rsaBefore + rsaAfter) / 2;
    const cores = availableParallelism();
    const median = rounds.map((r) => r.seconds).sort((a, b) => a - b)[Math.floor(ROUNDS / 2)]!;
    const mid = rounds.find((r) => r.seconds === median)!;
    const rows: Row[] = [
      {
        operation: `certified messages end to end (submit → acceptance → envelope → delivery → delivery receipt), median of ${ROUNDS} rounds`,
        "per second": MESSAGES / mid.seconds,
        messages: MESSAGES,
        seconds: mid.seconds,
      },
      ...rounds.map((r, i) => ({
        operation: `  round ${i + 1}`,
        "per second": MESSAGES / r.seconds,
        messages: MESSAGES,
        seconds: r.seconds,
      })),
      {
        operation: "  median round: SMTP submission answered 250 (accepted, durably)",
        "per second": MESSAGES / mid.submitSeconds,
        messages: MESSAGES,
        seconds: mid.submitSeconds,
      },
      {
        // Less sensitive to a busy machine than the rate: what one message costs the server.
        operation: "  median round: serve CPU time per message, ms (user + system, all threads)",
        "per second": mid.serveCpu > 0 ? (mid.serveCpu * 1000) / MESSAGES : Number.NaN,
        messages: MESSAGES,
        seconds: mid.serveCpu,
      },
      {
        // The thread that runs SMTP, TLS and every commit: the one that bounds the service.
        operation: "    of which its event loop (main thread)",
        "per second": mid.loopCpu > 0 ? (mid.loopCpu * 1000) / MESSAGES : Number.NaN,
        messages: MESSAGES,
        seconds: mid.loopCpu,
      },
      {
        operation: `  median round: client (${CLIENT === "lean" ? "smtp-load.ts" : "nodemailer"}, this process) CPU time per message, ms, same cores`,
        "per second": (mid.clientCpu * 1000) / MESSAGES,
        messages: MESSAGES,
        seconds: mid.clientCpu,
      },
      {
        operation: "peer: RSA-2048 signature CPU time per message at 3 signatures, ms",
        "per second": 3000 / ((rsaBefore + rsaAfter) / 2),
        messages: 0,
        seconds: 0,
      },
      { operation: "peer: raw RSA-2048 sign, one core", "per second": rsa, messages: 0, seconds: 0 },
      {
        operation: `peer: RSA limit at 3 signatures per message, ${cores} cores`,
        "per second": (rsa * cores) / 3,
        messages: 0,
        seconds: 0,
      },
    ];
    console.log(
      `one serve process, ${CONNECTIONS} submission connections (${CLIENT === "lean" ? "smtp-load.ts" : "nodemailer"}), ${WARMUP} messages of warm-up, ${cores} cores shared with the client`,
    );
    printTable(rows);
    writeResults("pec-service", {
      messages: MESSAGES,
      connections: CONNECTIONS,
      client: CLIENT,
      warmup: WARMUP,
      rounds: rounds.map((r) => MESSAGES / r.seconds),
      cores,
      node: process.version,
      rows,
    });
  } finally {
    child?.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  }
}
