// `domicilio demo` (what `npm start` runs): on first run creates ./data/demo, a provider for the nurses'
// order of Trento (pec.opi.tn.it) with a few active demo boxes, then serves it and prints what to open.
// A second start reuses the data. Demo listeners bind to loopback on unprivileged ports, since the demo
// passwords are public.
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Command } from "commander";
import { hashPassword } from "../../accounts/passwords.js";
import { loadConfig } from "../../config/load.js";
import { openStore } from "../../store/open.js";
import { initProvider } from "./init.js";
import { serveUntilSignal } from "./serve.js";

export const DEMO_DOMAIN = "pec.opi.tn.it";
export const DEMO_PASSWORD = "Demo-2026-pec";
export const DEMO_BOXES = ["mario.rossi", "giulia.bianchi", "luca.verdi"].map((n) => `${n}@${DEMO_DOMAIN}`);
export const DEMO_ADMIN = "segreteria@opi.tn.it";

export const DEMO_LISTEN = {
  bind: "127.0.0.1",
  http: 8080,
  smtp: 2525,
  submission: 2587,
  submissions: 2465,
  imap: 1143,
  imaps: 1993,
  pop3: 1110,
  pop3s: 1995,
};

function welcome(address: string, now: Date): Buffer {
  return Buffer.from(
    [
      `From: Domicilio <posta-certificata@${DEMO_DOMAIN}>`,
      `To: ${address}`,
      "Subject: Benvenuto nella tua casella PEC",
      `Date: ${now.toUTCString().replace("GMT", "+0000")}`,
      `Message-ID: <welcome.${address.replace("@", ".")}@${DEMO_DOMAIN}>`,
      "MIME-Version: 1.0",
      "Content-Type: text/plain; charset=UTF-8",
      "Content-Transfer-Encoding: 8bit",
      "",
      "Questa è una casella di dimostrazione di Domicilio.",
      "",
    ].join("\r\n"),
  );
}

export async function ensureDemo(dataDir: string): Promise<boolean> {
  const fresh = !existsSync(join(dataDir, "domicilio.toml"));
  await initProvider({
    data: dataDir,
    domain: DEMO_DOMAIN,
    providerName: "Domicilio Demo",
    listen: DEMO_LISTEN,
  });
  if (!fresh) return false;
  const loaded = loadConfig(dataDir);
  const store = await openStore({ dataDir, config: loaded.config });
  try {
    await store.addDomain(DEMO_DOMAIN, "OPI Trento");
    const passwordHash = await hashPassword(DEMO_PASSWORD);
    for (const address of DEMO_BOXES) {
      const box = await store.createMailbox({
        address,
        passwordHash,
        state: "active",
        quotaBytes: loaded.config.mailbox.quotaBytes,
      });
      const inbox = (await store.getFolder(box.id, "INBOX"))!;
      await store.appendMessages(box.id, inbox.id, [{ bytes: welcome(address, new Date()) }]);
    }
    await store.createAdmin(DEMO_ADMIN, passwordHash);
  } finally {
    await store.close();
  }
  return true;
}

export function registerDemo(program: Command): void {
  program
    .command("demo")
    .description("create (first time) and serve the demo provider in ./data/demo")
    .option("--data <dir>", "data folder", "data/demo")
    .action(async (opts: { data: string }) => {
      const dataDir = resolve(opts.data);
      const created = await ensureDemo(dataDir);
      console.log(created ? `demo created in ${dataDir}` : `demo data reused from ${dataDir}`);
      await serveUntilSignal(dataDir, () => {
        const { listen } = loadConfig(dataDir).config;
        console.log("");
        console.log(`Domicilio demo is running. Open http://${listen.bind}:${listen.http}/healthz`);
        console.log(`Demo boxes (password ${DEMO_PASSWORD}): ${DEMO_BOXES.join(", ")}`);
        console.log(`Order console administrator: ${DEMO_ADMIN} (same password)`);
        console.log("Ctrl-C stops it; the next start reuses the data.");
      });
    });
}
