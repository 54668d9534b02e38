// What most sub-commands need: the data folder's configuration and its store, opened once and closed
// when the command is done.
import { type LoadedConfig, loadConfig } from "../config/load.js";
import { openStore } from "../store/open.js";
import type { SqlMailStore } from "../store/sql-mail-store.js";

/** An error the user can act on: printed as it is, exit code 1, no stack trace. */
export class CliError extends Error {
  override name = "CliError";
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

export async function withStore<T>(
  dataDir: string,
  fn: (store: SqlMailStore, loaded: LoadedConfig) => Promise<T>,
): Promise<T> {
  const loaded = loadConfig(dataDir);
  const store = await openStore({ dataDir: loaded.dataDir, config: loaded.config });
  try {
    return await fn(store, loaded);
  } finally {
    await store.close();
  }
}
