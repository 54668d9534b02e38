// `domicilio provider export --data DIR` and `domicilio provider import FILE --data DIR`
// (docs/contract.md "Providers"): this provider's entry of the PEC providers' index, and the entries of
// the others (JSON as export prints it, or AgID's LDIF). A running server re-reads DIR/providers/.
import { readFileSync } from "node:fs";
import type { Command } from "commander";
import { loadConfig } from "../../config/load.js";
import { loadProviderKeys, ownProviderEntry } from "../../pec/provider-keys.js";
import { importProviders, parseProvidersFile } from "../../pec/providers-index.js";

export function registerProvider(program: Command): void {
  const provider = program.command("provider").description("The local copy of the PEC providers' index");
  provider
    .command("export")
    .description("Print this provider's entry as JSON: name, domains, mailReceipt, certificates, ca")
    .requiredOption("--data <dir>", "data folder")
    .action((opts: { data: string }) => {
      const { config } = loadConfig(opts.data);
      let keys: ReturnType<typeof loadProviderKeys>;
      try {
        keys = loadProviderKeys(opts.data);
      } catch {
        throw new Error(
          `no signing keys in ${opts.data}/keys: run \`domicilio init --data ${opts.data} …\` first`,
        );
      }
      const e = ownProviderEntry(config.provider, keys);
      process.stdout.write(
        `${JSON.stringify({ name: e.name, domains: e.domains, mailReceipt: e.mailReceipt, certificates: e.certificates, ca: e.ca })}\n`,
      );
    });
  provider
    .command("import")
    .description("Add or replace providers' entries from a JSON file (as export prints it) or AgID's LDIF")
    .argument("<file>", "JSON or LDIF")
    .requiredOption("--data <dir>", "data folder")
    .action((file: string, opts: { data: string }) => {
      loadConfig(opts.data);
      const entries = parseProvidersFile(readFileSync(file, "utf8"));
      importProviders(opts.data, entries);
      for (const e of entries) {
        process.stdout.write(
          `imported ${e.name}: ${e.domains.length} domain(s), ${e.certificates.length} certificate(s)\n`,
        );
      }
    });
}
