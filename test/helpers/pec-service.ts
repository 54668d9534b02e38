// Whole providers for the PEC service tests: `domicilio init` + boxes + `domicilio serve` with the MX on a
// known port (so each provider's DOMICILIO_ROUTES can name the other's), each listing the other in its
// providers' index; nodemailer submits, imapflow reads; an ordinary SMTP sink stands for the rest of
// the Internet; clamd runs rootless on a private signature database holding only EICAR.
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ImapFlow } from "imapflow";
import nodemailer from "nodemailer";
import type Mail from "nodemailer/lib/mailer";
import { SMTPServer } from "smtp-server";
import { openStore } from "../../src/store/open.js";
import type { SqlMailStore } from "../../src/store/sql-mail-store.js";
import { runCli, type Served, serve } from "./cli.js";

export const PASSWORD = "Segreto-2024";

import { freePort } from "./ports.js";

export { freePort };

export interface ProviderSpec {
  name: string;
  domain: string;
  /** local parts of active boxes; `name:quota` for a quota in bytes */
  boxes: string[];
  /** extra TOML appended to domicilio.toml */
  toml?: string;
}

export interface Provider {
  spec: ProviderSpec;
  dir: string;
  smtpPort: number;
  served: Served | null;
  env: NodeJS.ProcessEnv;
  caPem: string;
  port(protocol: string): number;
  address(local: string): string;
}

function cli(args: string[], env: NodeJS.ProcessEnv = {}): string {
  const r = runCli(args, env);
  if (r.status !== 0) throw new Error(`domicilio ${args.join(" ")} failed:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

export async function createProvider(root: string, spec: ProviderSpec): Promise<Provider> {
  const dir = join(root, spec.domain);
  cli(["init", "--data", dir, "--domain", spec.domain, "--provider-name", spec.name]);
  if (spec.toml) appendFileSync(join(dir, "domicilio.toml"), `\n${spec.toml}\n`);
  for (const b of spec.boxes) {
    const [local, quota] = b.split(":");
    cli([
      "mailbox",
      "add",
      `${local}@${spec.domain}`,
      "--data",
      dir,
      "--password",
      PASSWORD,
      "--active",
      ...(quota ? ["--quota", quota] : []),
    ]);
  }
  const p: Provider = {
    spec,
    dir,
    smtpPort: await freePort(),
    served: null,
    env: {},
    caPem: readFileSync(join(dir, "keys", "ca.pem"), "utf8"),
    port(protocol) {
      const l = this.served?.listening.get(protocol);
      if (!l) throw new Error(`${spec.domain}: no ${protocol} listener`);
      return l.port;
    },
    address: (local) => `${local}@${spec.domain}`,
  };
  return p;
}

/** Each provider imports the others' `provider export`. */
export function trustEachOther(providers: Provider[]): void {
  for (const p of providers) {
    const file = join(p.dir, "export.json");
    writeFileSync(file, cli(["provider", "export", "--data", p.dir]));
    for (const q of providers) if (q !== p) cli(["provider", "import", file, "--data", q.dir]);
  }
}

export async function startProvider(p: Provider, env: NodeJS.ProcessEnv = {}): Promise<void> {
  p.env = { ...p.env, ...env };
  p.served = await serve(p.dir, { DOMICILIO_SMTP_PORT: String(p.smtpPort), ...p.env }, [
    "smtp",
    "submission",
    "imap",
  ]);
}

export async function stopProvider(p: Provider, signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
  const child = p.served?.child;
  // A process already killed has fired its exit event: waiting for it again would wait for ever.
  if (child && child.exitCode === null && child.signalCode === null) await p.served!.stop(signal);
  p.served = null;
}

export function routes(entries: Record<string, number>): string {
  return Object.entries(entries)
    .map(([d, port]) => `${d}=127.0.0.1:${port}`)
    .join(",");
}

export async function submit(p: Provider, local: string, mail: Mail.Options): Promise<string> {
  const t = nodemailer.createTransport({
    host: "127.0.0.1",
    port: p.port("submission"),
    secure: false,
    auth: { user: p.address(local), pass: PASSWORD },
    tls: { rejectUnauthorized: false },
  });
  try {
    const info = await t.sendMail({ from: p.address(local), ...mail });
    return String(info.response);
  } finally {
    t.close();
  }
}

/** Sends straight to a provider's MX, as another server would. */
export async function sendToMx(
  p: Provider,
  envelope: { from: string; to: string[] },
  raw: Buffer | string,
): Promise<string> {
  const t = nodemailer.createTransport({
    host: "127.0.0.1",
    port: p.smtpPort,
    secure: false,
    ignoreTLS: true,
    name: "mx.sender.example",
  });
  try {
    const info = await t.sendMail({ envelope, raw });
    return String(info.response);
  } finally {
    t.close();
  }
}

export interface Fetched {
  uid: number;
  raw: Buffer;
  subject: string;
  /** X-Ricevuta or X-Trasporto */
  pecType: string | null;
}

export async function readInbox(p: Provider, local: string): Promise<Fetched[]> {
  const c = new ImapFlow({
    host: "127.0.0.1",
    port: p.port("imap"),
    secure: false,
    doSTARTTLS: false,
    auth: { user: p.address(local), pass: PASSWORD },
    logger: false,
  });
  await c.connect();
  try {
    const box = await c.mailboxOpen("INBOX");
    const out: Fetched[] = [];
    if (box.exists === 0) return out;
    for await (const m of c.fetch("1:*", { uid: true, source: true, envelope: true })) {
      const raw = m.source!;
      const head = raw.subarray(0, raw.indexOf("\r\n\r\n")).toString("latin1");
      const t = /^X-(?:Ricevuta|Trasporto): *(\S+)/im.exec(head);
      out.push({
        uid: m.uid,
        raw,
        subject: m.envelope?.subject ?? "",
        pecType: t ? t[1]!.toLowerCase() : null,
      });
    }
    return out;
  } finally {
    await c.logout().catch(() => undefined);
  }
}

export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | null | undefined | false>,
  timeoutMs = 45_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ""}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/**
 * Waits until the box holds messages of every type in `types` (with multiplicity) whose subject contains
 * `tag`; returns those messages.
 */
export function waitForTypes(p: Provider, local: string, tag: string, types: string[], timeoutMs?: number) {
  return waitFor(
    `${p.address(local)} to hold ${types.join(", ")} about "${tag}"`,
    async () => {
      const inbox = (await readInbox(p, local)).filter((m) => m.subject.includes(tag));
      const have = inbox.map((m) => m.pecType ?? "ordinaria");
      for (const t of new Set(types)) {
        if (have.filter((h) => h === t).length < types.filter((x) => x === t).length) return null;
      }
      return inbox;
    },
    timeoutMs,
  );
}

/** openssl smime -verify against the issuing provider's CA: true when the signature and chain verify. */
export function opensslVerifies(raw: Buffer, caPem: string): boolean {
  const dir = mkdtempSync(join(tmpdir(), "domicilio-verify-"));
  try {
    writeFileSync(join(dir, "m.eml"), raw);
    writeFileSync(join(dir, "ca.pem"), caPem);
    const r = spawnSync(
      "openssl",
      [
        "smime",
        "-verify",
        "-in",
        join(dir, "m.eml"),
        "-CAfile",
        join(dir, "ca.pem"),
        "-out",
        join(dir, "out"),
      ],
      { encoding: "utf8" },
    );
    return r.status === 0;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A store handle on a provider's data folder, beside its running `serve` (SQLite in WAL). */
export async function withProviderStore<T>(p: Provider, fn: (s: SqlMailStore) => Promise<T>): Promise<T> {
  const store = await openStore({
    dataDir: p.dir,
    config: { database: { url: "" }, blobs: { path: "blobs", fsync: true, inlineMaxBytes: 65536 } },
  });
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

export interface Sink {
  port: number;
  messages: { from: string; to: string[]; raw: Buffer }[];
  close(): Promise<void>;
}

/** An ordinary mail server (the rest of the Internet, the notification relay): keeps what it gets. */
export async function startSink(): Promise<Sink> {
  const messages: Sink["messages"] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ["STARTTLS", "AUTH"],
    logger: false,
    onData(stream, session, cb) {
      const chunks: Buffer[] = [];
      stream.on("data", (c: Buffer) => chunks.push(c));
      stream.on("end", () => {
        messages.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : "",
          to: session.envelope.rcptTo.map((r) => r.address),
          raw: Buffer.concat(chunks),
        });
        cb();
      });
    },
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", () => resolve()));
  return { port, messages, close: () => new Promise((r) => server.close(() => r())) };
}

export const EICAR = "X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";

export interface Clamd {
  socket: string;
  stop(): Promise<void>;
}

/**
 * clamd, rootless, in the foreground, on a unix socket in a temporary folder, with a signature database
 * of one line the test writes itself (the EICAR body as a hex body signature): nothing is downloaded and
 * freshclam never runs.
 */
export async function startClamd(): Promise<Clamd> {
  const dir = mkdtempSync(join(tmpdir(), "domicilio-clamd-"));
  const db = join(dir, "db");
  mkdirSync(db);
  // .ndb: Name:TargetType:Offset:HexSignature (ClamAV signatures manual); 0 = any file, * = anywhere.
  writeFileSync(join(db, "eicar.ndb"), `Domicilio-Test-EICAR:0:*:${Buffer.from(EICAR).toString("hex")}\n`);
  const socket = join(dir, "clamd.sock");
  const conf = join(dir, "clamd.conf");
  writeFileSync(
    conf,
    [
      `LocalSocket ${socket}`,
      `DatabaseDirectory ${db}`,
      "Foreground yes",
      `PidFile ${join(dir, "clamd.pid")}`,
      `TemporaryDirectory ${dir}`,
      "LogFile /dev/null",
      "ScanMail yes",
      "",
    ].join("\n"),
  );
  const child = spawn("clamd", ["--config-file", conf], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout!.on("data", (c: Buffer) => (out += c.toString()));
  child.stderr!.on("data", (c: Buffer) => (out += c.toString()));
  await waitFor(
    "clamd to listen",
    async () => {
      if (child.exitCode !== null) throw new Error(`clamd exited: ${out}`);
      try {
        execFileSync("test", ["-S", socket]);
        return true;
      } catch {
        return false;
      }
    },
    60_000,
  );
  return {
    socket,
    async stop() {
      if (child.exitCode === null) {
        child.kill("SIGTERM");
        await new Promise((r) => child.once("exit", r));
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
