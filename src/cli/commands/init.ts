// `domicilio init --data DIR --domain DOMAIN --provider-name NAME`: creates a provider (contract.md).
// Idempotent: a second run keeps the existing configuration, data and keys.
import { mkdirSync } from "node:fs";
import { resolve } from "node:path";
import type { Command } from "commander";
import { parseAddress } from "../../accounts/addresses.js";
import { findConfigFile, loadConfig } from "../../config/load.js";
import type { ConfigInput } from "../../config/schema.js";
import { writeConfig } from "../../config/write.js";
import { ensureProviderKeys } from "../../pec/provider-keys.js";
import { openStore } from "../../store/open.js";
import { loadOrCreateServerCert } from "../../tls/self-signed.js";
import { CliError } from "../context.js";

export interface InitOptions {
  data: string;
  domain: string;
  providerName: string;
  listen?: ConfigInput["listen"];
}

export interface InitResult {
  dataDir: string;
  configFile: string;
  created: boolean;
}

export async function initProvider(options: InitOptions): Promise<InitResult> {
  const domain = options.domain.trim().toLowerCase();
  if (!parseAddress(`posta-certificata@${domain}`))
    throw new CliError(`--domain: "${options.domain}" is not a domain name`);
  if (!options.providerName.trim()) throw new CliError("--provider-name: must not be empty");
  const dataDir = resolve(options.data);
  mkdirSync(dataDir, { recursive: true, mode: 0o750 });
  let created = false;
  let configFile = findConfigFile(dataDir);
  if (!configFile) {
    configFile = writeConfig(dataDir, {
      provider: { name: options.providerName.trim(), domain, domains: [domain] },
      ...(options.listen ? { listen: options.listen } : {}),
    });
    created = true;
  }
  const loaded = loadConfig(dataDir);
  if (
    !created &&
    !loaded.config.provider.domains.includes(domain) &&
    loaded.config.provider.domain !== domain
  ) {
    throw new CliError(
      `${dataDir} already holds provider "${loaded.config.provider.name}" for ${loaded.config.provider.domain}; ` +
        `add ${domain} to provider.domains in ${loaded.file} to host it too`,
    );
  }
  const store = await openStore({ dataDir, config: loaded.config });
  try {
    for (const d of new Set([loaded.config.provider.domain, ...loaded.config.provider.domains]))
      await store.addDomain(d);
  } finally {
    await store.close();
  }
  // The provider's CA and signing certificate (DATA/keys/): created once, kept on later runs.
  await ensureProviderKeys(dataDir, loaded.config.provider, new Date());
  // The listeners' TLS certificate, self-signed until the operator replaces DATA/tls/server.{crt,key}.
  await loadOrCreateServerCert(dataDir, loaded.config.provider.domain);
  return { dataDir, configFile, created };
}

export function registerInit(program: Command): void {
  program
    .command("init")
    .description("create a provider: configuration, database, keys and certificates (idempotent)")
    .requiredOption("--data <dir>", "data folder")
    .requiredOption("--domain <domain>", "mail domain of the boxes (also the provider's signing domain)")
    .requiredOption("--provider-name <name>", "provider name written in receipts")
    .action(async (opts: { data: string; domain: string; providerName: string }) => {
      const r = await initProvider(opts);
      console.log(
        r.created
          ? `created provider in ${r.dataDir} (configuration ${r.configFile})`
          : `provider already initialised in ${r.dataDir}: nothing changed`,
      );
    });
}
