// Ports for servers a test starts later, in another process that must be told its port in advance (a
// Dovecot, a provider's MX that the other provider's routes name). Taken below the kernel's ephemeral
// range: a port found free there and released can be handed at once to any socket that binds port 0 (the
// same server's other listeners, a client's connection), which then holds it first: EADDRINUSE.
import { readFileSync } from "node:fs";
import { createServer } from "node:net";

function ephemeralLow(): number {
  try {
    const low = Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > 12000 ? low : 32768;
  } catch {
    return 32768;
  }
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.unref();
    s.once("error", () => resolve(false));
    s.listen(port, "127.0.0.1", () => s.close(() => resolve(true)));
  });
}

export async function freePort(): Promise<number> {
  const low = ephemeralLow();
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = 10000 + Math.floor(Math.random() * (low - 10000));
    if (await canListen(port)) return port;
  }
  throw new Error("no free port below the ephemeral range");
}
