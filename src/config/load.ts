// Loads <data>/domicilio.toml (or domicilio.json), applies the environment overrides of docs/contract.md,
// and validates against the schema. Any problem stops start-up with a message naming the key.
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parse as parseToml } from "smol-toml";
import type { z } from "zod";
import { type Config, configSchema } from "./schema.js";

export class ConfigError extends Error {
  override name = "ConfigError";
}

export const CONFIG_FILES = ["domicilio.toml", "domicilio.json"] as const;

/** Environment variable → path of the config key it overrides (docs/contract.md). */
export const ENV_OVERRIDES: Record<string, { path: [string, string]; type: "port" | "string" }> = {
  DOMICILIO_BIND: { path: ["listen", "bind"], type: "string" },
  DOMICILIO_HTTP_PORT: { path: ["listen", "http"], type: "port" },
  DOMICILIO_SMTP_PORT: { path: ["listen", "smtp"], type: "port" },
  DOMICILIO_SUBMISSION_PORT: { path: ["listen", "submission"], type: "port" },
  DOMICILIO_SUBMISSIONS_PORT: { path: ["listen", "submissions"], type: "port" },
  DOMICILIO_IMAP_PORT: { path: ["listen", "imap"], type: "port" },
  DOMICILIO_IMAPS_PORT: { path: ["listen", "imaps"], type: "port" },
  DOMICILIO_POP3_PORT: { path: ["listen", "pop3"], type: "port" },
  DOMICILIO_POP3S_PORT: { path: ["listen", "pop3s"], type: "port" },
  DOMICILIO_DATABASE_URL: { path: ["database", "url"], type: "string" },
};

export interface LoadedConfig {
  dataDir: string;
  file: string;
  config: Config;
}

export function findConfigFile(dataDir: string): string | null {
  for (const name of CONFIG_FILES) {
    const p = join(dataDir, name);
    if (existsSync(p)) return p;
  }
  return null;
}

function readRaw(file: string): unknown {
  const text = readFileSync(file, "utf8");
  try {
    return file.endsWith(".json") ? JSON.parse(text) : parseToml(text);
  } catch (err) {
    throw new ConfigError(
      `${file}: not valid ${file.endsWith(".json") ? "JSON" : "TOML"}: ${(err as Error).message}`,
    );
  }
}

function applyEnv(raw: Record<string, unknown>, env: NodeJS.ProcessEnv): void {
  for (const [name, { path, type }] of Object.entries(ENV_OVERRIDES)) {
    const value = env[name];
    if (value === undefined || value === "") continue;
    const [section, key] = path;
    if (raw[section] === undefined) raw[section] = {};
    const target = raw[section] as Record<string, unknown>;
    if (typeof target !== "object" || target === null) continue;
    if (type === "port") {
      if (!/^\d+$/.test(value) || Number(value) > 65535) {
        throw new ConfigError(`${name}=${value}: not a port number (0-65535)`);
      }
      target[key] = Number(value);
    } else {
      target[key] = value;
    }
  }
}

export function formatIssues(issues: z.core.$ZodIssue[]): string {
  return issues
    .map((i) => {
      const key = i.path.join(".") || "(root)";
      if (i.code === "unrecognized_keys") {
        const prefix = i.path.length ? `${i.path.join(".")}.` : "";
        return `unknown key ${i.keys.map((k) => `"${prefix}${k}"`).join(", ")}`;
      }
      return `${key}: ${i.message}`;
    })
    .join("; ");
}

export function validateConfig(raw: unknown, source: string): Config {
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success)
    throw new ConfigError(`invalid configuration in ${source}: ${formatIssues(parsed.error.issues)}`);
  return parsed.data;
}

export function loadConfig(dataDir: string, env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  const dir = resolve(dataDir);
  const file = findConfigFile(dir);
  if (!file) {
    throw new ConfigError(`no configuration in ${dir}: run \`domicilio init --data ${dataDir} …\` first`);
  }
  const raw = readRaw(file);
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw new ConfigError(`${file}: the configuration must be a table of keys`);
  }
  applyEnv(raw as Record<string, unknown>, env);
  return { dataDir: dir, file, config: validateConfig(raw, file) };
}
