// Runs the built `domicilio` command as a user would (the suite runner builds dist/ first).
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { join } from "node:path";

export const REPO_ROOT = join(import.meta.dirname, "..", "..");
const BIN = join(REPO_ROOT, "bin", "domicilio.js");

/** Every listener on an ephemeral port, so parallel tests never collide. */
export const EPHEMERAL_PORTS: Record<string, string> = Object.fromEntries(
  ["HTTP", "SMTP", "SUBMISSION", "SUBMISSIONS", "IMAP", "IMAPS", "POP3", "POP3S"].map((p) => [
    `DOMICILIO_${p}_PORT`,
    "0",
  ]),
);

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function runCli(args: string[], env: NodeJS.ProcessEnv = {}): CliResult {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    encoding: "utf8",
    env: { ...process.env, ...env },
    timeout: 120_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

export interface Served {
  child: ChildProcess;
  /** protocol → "host:port" from the `listening …` lines. */
  listening: Map<string, { host: string; port: number }>;
  output: () => string;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Starts `domicilio serve` and resolves once the expected listeners have printed their lines. */
export async function serve(
  dataDir: string,
  env: NodeJS.ProcessEnv = {},
  expect: string[] = ["http"],
): Promise<Served> {
  const child = spawn(process.execPath, [BIN, "serve", "--data", dataDir], {
    env: { ...process.env, DOMICILIO_BIND: "127.0.0.1", ...EPHEMERAL_PORTS, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  const listening = new Map<string, { host: string; port: number }>();
  await new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      for (const m of out.matchAll(/^listening (\S+) (\S+):(\d+)$/gm)) {
        listening.set(m[1]!, { host: m[2]!, port: Number(m[3]) });
      }
      if (expect.every((p) => listening.has(p))) resolve();
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", (c: Buffer) => {
      out += c.toString();
    });
    child.once("exit", (code) => reject(new Error(`serve exited with ${code} before listening:\n${out}`)));
  });
  return {
    child,
    listening,
    output: () => out,
    async stop(signal = "SIGTERM") {
      // Already gone (exited, or killed by a signal, when exitCode stays null): nothing to wait for.
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill(signal);
      const [code] = await once(child, "exit");
      return code as number | null;
    },
  };
}
