// Opens the store a data folder's configuration describes: the metadata database (SQLite file in the data
// folder, or PostgreSQL) and the blob store.
import { mkdirSync } from "node:fs";
import { isAbsolute, join } from "node:path";
import type { Config } from "../config/schema.js";
import { FsBlobStore } from "./blob-store.js";
import { openDatabase } from "./database.js";
import type { MailStore } from "./mail-store.js";
import { SqlMailStore } from "./sql-mail-store.js";

export const SQLITE_FILE = "domicilio.sqlite";

export interface OpenStoreOptions {
  dataDir: string;
  config: Pick<Config, "database" | "blobs">;
  now?: () => Date;
}

export async function openStore(options: OpenStoreOptions): Promise<SqlMailStore> {
  const { dataDir, config } = options;
  mkdirSync(dataDir, { recursive: true });
  const blobRoot = isAbsolute(config.blobs.path) ? config.blobs.path : join(dataDir, config.blobs.path);
  const { db, dialect, durable } = await openDatabase({
    url: config.database.url,
    sqlitePath: join(dataDir, SQLITE_FILE),
  });
  return new SqlMailStore(
    db,
    dialect,
    new FsBlobStore(blobRoot, { fsync: config.blobs.fsync }),
    options.now,
    { inlineMaxBytes: config.blobs.inlineMaxBytes, durable },
  );
}

export type { MailStore };
