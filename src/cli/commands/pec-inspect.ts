// `domicilio pec inspect FILE [--json] [--trust DIR] [--data DIR]` (docs/contract.md "PEC inspection").
// Trust: `signature.trusted` is null unless anchors are given. --trust DIR adds every certificate found in
// DIR (*.pem, *.crt, *.cer; e.g. the AgID CA1 certificates); --data DIR adds this provider's CA and every
// provider of its index. Without either, nothing is trusted or distrusted: we report null, not false.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Command } from "commander";
import { loadConfig } from "../../config/load.js";
import { PecParseError } from "../../pec/errors.js";
import { loadProviderKeys, ownProviderEntry } from "../../pec/provider-keys.js";
import { ProvidersIndex } from "../../pec/providers-index.js";
import { inspectJson, readPec } from "../../pec/reader.js";
import { TrustStore } from "../../pec/smime.js";

export function pecGroup(program: Command): Command {
  return (
    program.commands.find((c) => c.name() === "pec") ??
    program.command("pec").description("PEC messages: inspect and verify")
  );
}

export function trustFromDir(dir: string, store: TrustStore): void {
  for (const f of readdirSync(dir)) {
    if (!/\.(pem|crt|cer|der)$/i.test(f)) continue;
    const bytes = readFileSync(join(dir, f));
    if (bytes.includes("-----BEGIN CERTIFICATE-----")) store.addPem(bytes.toString("latin1"));
    else store.add(bytes);
  }
}

export function trustFromData(dataDir: string, store: TrustStore): ProvidersIndex {
  const { config } = loadConfig(dataDir);
  let own: ReturnType<typeof ownProviderEntry>[] = [];
  try {
    own = [ownProviderEntry(config.provider, loadProviderKeys(dataDir))];
  } catch {
    own = [];
  }
  const index = ProvidersIndex.open(dataDir, own);
  for (const a of index.trustStore().anchors) store.add(a);
  return index;
}

export function registerPecInspect(program: Command): void {
  pecGroup(program)
    .command("inspect")
    .description("Read one message: PEC type, signature (intact, signer, trusted) and daticert")
    .argument("<file>", "the message (.eml), exactly as stored")
    .option("--json", "print JSON (the shape of docs/contract.md)")
    .option("--trust <dir>", "folder of trusted certificates (PEM/DER), e.g. the AgID CA1 certificates")
    .option("--data <dir>", "a provider's data folder: trust its CA and its providers' index")
    .action((file: string, opts: { json?: boolean; trust?: string; data?: string }) => {
      let trust: TrustStore | null = null;
      if (opts.trust || opts.data) {
        trust = new TrustStore();
        if (opts.trust) trustFromDir(opts.trust, trust);
        if (opts.data) trustFromData(opts.data, trust);
      }
      const raw = readFileSync(file);
      let reading: ReturnType<typeof readPec>;
      try {
        reading = readPec(raw, { trust });
      } catch (err) {
        if (err instanceof PecParseError) {
          process.stderr.write(`unreadable message: ${err.message}\n`);
          process.exitCode = 2;
          return;
        }
        throw err;
      }
      const j = inspectJson(reading);
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(j)}\n`);
        return;
      }
      const s = j.signature;
      const lines = [
        `type:       ${j.pec ?? "not PEC"}`,
        `signature:  ${!s.present ? "none" : s.intact ? "intact" : "BROKEN"}${s.trusted === null ? "" : s.trusted ? ", trusted" : ", NOT trusted"}`,
      ];
      if (s.signer) lines.push(`signer:     ${s.signer}`);
      if (reading.signature.reason && s.present) lines.push(`note:       ${reading.signature.reason}`);
      if (j.daticert) {
        const d = j.daticert;
        lines.push(
          `daticert:   ${d.tipo} (errore ${d.errore})`,
          `  gestore:        ${d["gestore-emittente"]}`,
          `  data:           ${d.data.giorno} ${d.data.ora} ${d.data.zona}`,
          `  identificativo: ${d.identificativo}`,
          `  msgid:          ${d.msgid ?? "-"}`,
          `  mittente:       ${d.mittente}`,
          ...d.destinatari.map((x) => `  destinatario:   ${x.indirizzo} (${x.tipo})`),
          `  oggetto:        ${d.oggetto ?? "-"}`,
        );
        if (d.ricevuta) lines.push(`  ricevuta:       ${d.ricevuta}`);
        if (d.consegna) lines.push(`  consegna:       ${d.consegna}`);
      } else if (reading.daticertError) {
        lines.push(`daticert:   ${reading.daticertError.message}`);
      }
      process.stdout.write(`${lines.join("\n")}\n`);
    });
}
