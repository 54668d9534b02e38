// Logging in to the old box. Apart from the engine so that `domicilio migrate` can start the control
// connection before it loads the store: this file pulls in imapflow only, not kysely or zod, and a login
// (several round trips, the server's authentication) then runs while the store's modules compile.
import type { ImapFlow } from "imapflow";
import { classifyConnectError, MigrationError } from "./errors.js";
import { presetForHost } from "./presets.js";
import { type ImapEndpoint, newImapClient } from "./targets.js";

/** A logged-in connection to the old box, and the credentials that worked. */
export interface OpenedSource {
  client: ImapFlow;
  source: ImapEndpoint;
}

export async function connectSource(ep: ImapEndpoint): Promise<ImapFlow> {
  const c = newImapClient(ep);
  c.on("error", () => {}); // surfaced through the failing command instead
  try {
    await c.connect();
  } catch (err) {
    throw classifyConnectError(err, `${ep.host}:${ep.port}`, presetForHost(ep.host)?.loginHint);
  }
  return c;
}

/** The control connection; a password refused as typed is tried once more without stray spaces. */
export async function openControl(source: ImapEndpoint): Promise<OpenedSource> {
  try {
    return { client: await connectSource(source), source };
  } catch (err) {
    // mission.md: people type credentials with a stray space. Try once more without it.
    const trimmed = source.password.trim();
    if (!(err instanceof MigrationError && err.code === "AUTH_FAILED") || trimmed === source.password)
      throw err;
    const retry = { ...source, password: trimmed };
    return { client: await connectSource(retry).catch(() => Promise.reject(err)), source: retry };
  }
}
