// Runs a program without blocking the event loop (an in-process server must keep answering it).
import { spawn } from "node:child_process";

export function runAsync(
  cmd: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; timeoutMs?: number; encoding?: BufferEncoding } = {},
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { env: options.env ?? process.env, stdio: ["ignore", "pipe", "pipe"] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (d: Buffer) => out.push(d));
    child.stderr.on("data", (d: Buffer) => err.push(d));
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 60_000);
    child.on("close", (status) => {
      clearTimeout(timer);
      const enc = options.encoding ?? "utf8";
      resolve({ status, stdout: Buffer.concat(out).toString(enc), stderr: Buffer.concat(err).toString(enc) });
    });
  });
}
