// A store in a temporary data folder, on SQLite or on a fresh PostgreSQL database, removed on close.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openStore } from "../../src/store/open.js";
import type { SqlMailStore } from "../../src/store/sql-mail-store.js";
import { createTestDatabase } from "./postgres.js";

export type Backend = "sqlite" | "postgres";
export const BACKENDS: Backend[] = ["sqlite", "postgres"];

export interface TempStore {
  store: SqlMailStore;
  dataDir: string;
  databaseUrl: string;
  close(): Promise<void>;
}

export async function createTempStore(
  backend: Backend,
  options: { now?: () => Date; inlineMaxBytes?: number } = {},
): Promise<TempStore> {
  const dataDir = mkdtempSync(join(tmpdir(), "domicilio-store-"));
  const databaseUrl = backend === "postgres" ? await createTestDatabase() : "";
  const store = await openStore({
    dataDir,
    config: {
      database: { url: databaseUrl },
      blobs: { path: "blobs", fsync: true, inlineMaxBytes: options.inlineMaxBytes ?? 65536 },
    },
    ...(options.now ? { now: options.now } : {}),
  });
  return {
    store,
    dataDir,
    databaseUrl,
    async close() {
      await store.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
