// An in-process IMAP server on a temporary store, on loopback port 0, with one active box.
import { hashPassword } from "../../src/accounts/passwords.js";
import type { IMAP_LIMITS } from "../../src/imap/proto/limits.js";
import { ImapServer } from "../../src/imap/server/server.js";
import { createSelfSigned } from "../../src/tls/self-signed.js";
import { type Backend, createTempStore, type TempStore } from "./temp-store.js";

export const USER = "mario.rossi@pec.example.it";
export const PASSWORD = "correct horse battery";

export interface TestImap {
  temp: TempStore;
  server: ImapServer;
  port: number;
  tlsPort: number;
  mailboxId: number;
  close(): Promise<void>;
}

let cachedHash: string | null = null;
let cachedCert: Awaited<ReturnType<typeof createSelfSigned>> | null = null;

export async function startTestImap(
  options: { backend?: Backend; limits?: Partial<typeof IMAP_LIMITS>; quotaBytes?: number } = {},
): Promise<TestImap> {
  const temp = await createTempStore(options.backend ?? "sqlite");
  cachedHash ??= await hashPassword(PASSWORD);
  cachedCert ??= await createSelfSigned("localhost");
  const box = await temp.store.createMailbox({
    address: USER,
    passwordHash: cachedHash,
    state: "active",
    quotaBytes: options.quotaBytes ?? 1024 ** 3,
  });
  const server = new ImapServer({
    store: temp.store,
    tls: cachedCert,
    ...(options.limits ? { limits: options.limits } : {}),
  });
  const port = await server.listen(0, "127.0.0.1", false);
  const tlsPort = await server.listen(0, "127.0.0.1", true);
  return {
    temp,
    server,
    port,
    tlsPort,
    mailboxId: box.id,
    async close() {
      await server.close();
      await temp.close();
    },
  };
}

export async function hashFor(password: string): Promise<string> {
  return password === PASSWORD && cachedHash ? cachedHash : hashPassword(password);
}
