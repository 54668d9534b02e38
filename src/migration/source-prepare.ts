// "In preparazione" on the source thread (source-thread.ts `prepare`): the login, the folder listing and
// plan, and the scan of every folder to copy, all on one connection of ours and all before the main
// thread has finished loading the store.
import { BodyConnection, SourceCommandError } from "./body-connection.js";
import { planFolders } from "./folder-map.js";
import type { ScannedAttributes } from "./imap-response.js";
import type { Prepared, PreparedFolder } from "./source-thread.js";
import type { ImapEndpoint } from "./targets.js";

/** Logs in; a password refused as typed is tried once more without stray spaces (mission.md). */
async function login(ep: ImapEndpoint): Promise<{ conn: BodyConnection; source: ImapEndpoint }> {
  try {
    return { conn: await BodyConnection.open(ep), source: ep };
  } catch (err) {
    const trimmed = ep.password.trim();
    if (!(err instanceof SourceCommandError && err.authenticationFailed) || trimmed === ep.password)
      throw err;
    const retry = { ...ep, password: trimmed };
    // The first refusal is the one reported if this fails too.
    return { conn: await BodyConnection.open(retry).catch(() => Promise.reject(err)), source: retry };
  }
}

export async function prepareSource(
  ep: ImapEndpoint,
  /** Told the credentials that worked as soon as the login is done (the spares log in with them). */
  loggedIn: (source: ImapEndpoint) => void,
): Promise<{ prepared: Omit<Prepared, "scanner">; scanner: BodyConnection }> {
  const { conn, source } = await login(ep);
  loggedIn(source);
  try {
    const { folders, namespacePrefix } = await conn.list();
    const plan = planFolders(folders, { namespacePrefix });
    const scans: PreparedFolder[] = [];
    for (const p of plan) {
      if (p.skipped || !p.selectable) continue;
      try {
        const examined = await conn.examine(p.source, p.wire);
        const scanned: ScannedAttributes[] = [];
        if (examined.exists > 0) await conn.scan((m) => scanned.push(m));
        scans.push({ source: p.source, examined, scanned });
      } catch (err) {
        // A folder the server lists but refuses to open is reported and the others are copied; a
        // connection lost on the way ends the preparation.
        if (!conn.usable) throw err;
        scans.push({ source: p.source, error: (err as Error)?.message ?? String(err) });
      }
    }
    return { prepared: { plan, scans, source }, scanner: conn };
  } catch (err) {
    conn.close();
    throw err;
  }
}
