// Writes a new data folder's configuration file: only the keys that differ from the defaults, so the file
// stays short and later default changes reach it.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { stringify } from "smol-toml";
import type { ConfigInput } from "./schema.js";

export function writeConfig(dataDir: string, config: ConfigInput): string {
  const file = join(dataDir, "domicilio.toml");
  const header =
    "# Domicilio configuration. Every key, its default and its meaning: `domicilio config docs`.\n" +
    "# Environment variables (DOMICILIO_*_PORT, DOMICILIO_BIND, DOMICILIO_DATABASE_URL) override it.\n\n";
  writeFileSync(file, header + stringify(config) + "\n", { flag: "wx" });
  return file;
}
