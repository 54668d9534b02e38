// Shared by the PEC tests: the real samples folder (read in place, never copied), a provider with its
// own CA and signing key in a temporary folder, and a deterministic build context.
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BuildContext } from "../../src/pec/builders.js";
import { ensureProviderKeys, type ProviderKeys } from "../../src/pec/provider-keys.js";
import { TrustStore } from "../../src/pec/smime.js";
import { REPO_ROOT } from "../helpers/cli.js";

export const SAMPLES = join(REPO_ROOT, "..", "shared", "pec-samples");

export interface ManifestEntry {
  file: string;
  pec: string | null;
  signature_intact: boolean | null;
  daticert: Record<string, unknown> | null;
}

/** The manifest, or null after saying loudly that the samples are missing. */
export function loadManifest(): ManifestEntry[] | null {
  const file = join(SAMPLES, "manifest.json");
  if (!existsSync(file)) {
    console.error(
      `\n!!! ../shared/pec-samples is MISSING (looked in ${SAMPLES}): the conformance tests against real ` +
        `PEC messages did NOT run !!!\n`,
    );
    return null;
  }
  return JSON.parse(readFileSync(file, "utf8")) as ManifestEntry[];
}

export function agidTrust(): TrustStore {
  const t = new TrustStore();
  for (const f of ["AgID_CA1_2018-2028.pem", "AgID_CA1_2021-2030.pem"]) {
    t.addPem(readFileSync(join(SAMPLES, "trust", f), "utf8"));
  }
  return t;
}

export interface TestProvider {
  dir: string;
  keys: ProviderKeys;
  ctx: BuildContext;
  trust: TrustStore;
  cleanup(): void;
}

/** A provider whose clock is fixed at `at` (default: now), with keys valid at that time. */
export async function testProvider(name: string, domain: string, at = new Date()): Promise<TestProvider> {
  const dir = mkdtempSync(join(tmpdir(), "domicilio-pec-"));
  const keys = await ensureProviderKeys(dir, { name, domain }, at);
  return {
    dir,
    keys,
    ctx: { provider: { name, domain }, signer: keys.signer, now: () => at, random: randomBytes },
    trust: new TrustStore([keys.ca]),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export function originalMessage(
  opts: { subject?: string; tipo?: string; attachment?: boolean } = {},
): Buffer {
  const subject = opts.subject ?? "Fattura n. 12";
  const head =
    `From: Mario Rossi <mario.rossi@pec.alfa.it>\r\nTo: anna.neri@pec.beta.it, luca@example.com\r\n` +
    `Cc: ufficio@pec.beta.it\r\nSubject: ${subject}\r\nDate: Mon, 2 Dec 2024 10:00:00 +0100\r\n` +
    `Message-ID: <orig-1234@client.example>\r\nMIME-Version: 1.0\r\n` +
    (opts.tipo ? `X-TipoRicevuta: ${opts.tipo}\r\n` : "");
  if (!opts.attachment)
    return Buffer.from(`${head}Content-Type: text/plain; charset=utf-8\r\n\r\nBuongiorno.\r\n`);
  return Buffer.from(
    `${head}Content-Type: multipart/mixed; boundary="b1"\r\n\r\n--b1\r\nContent-Type: text/plain\r\n\r\nIn allegato.\r\n` +
      `--b1\r\nContent-Type: application/pdf; name="fattura.pdf"\r\nContent-Disposition: attachment; filename="fattura.pdf"\r\n` +
      `Content-Transfer-Encoding: base64\r\n\r\n${Buffer.from("%PDF-1.4 finta fattura").toString("base64")}\r\n--b1--\r\n`,
  );
}
