// The migration oracle: reads two mailboxes independently of the code under test and compares them folder
// by folder as multisets of (sha-256 of the exact bytes, flags and keywords, INTERNALDATE to the second).
// Exact duplicates count twice, so a doubled or missing copy is seen.
//
//   const a = imapSide({ url: dc.url("src"), password: "pass" });
//   const b = imapSide({ url: dc.url("dst"), password: "pass" });      // or storeSide(store, mailboxId)
//   const diff = await compareMailboxes(a, b, { mapName: (n) => n });
//   assert.deepEqual(diff.problems, []);
//
// Folder names on both sides are Unicode with "/" as separator (modified UTF-7 decoded, the server's
// separator translated); \Noselect folders are skipped (they hold no messages).
import { createHash } from "node:crypto";
import { ImapFlow } from "imapflow";
import type { MailStore } from "../../src/store/mail-store.js";

export interface MessageKey {
  sha256: string;
  flags: string[];
  /** Seconds since the epoch (IMAP INTERNALDATE has second resolution). */
  internalDate: number;
}

export interface MailboxSide {
  label: string;
  /** Selectable folders, Unicode, "/"-separated. */
  folders(): Promise<string[]>;
  messages(folder: string): Promise<MessageKey[]>;
  close(): Promise<void>;
}

export interface FolderDiff {
  a: string;
  b: string;
  aCount: number;
  bCount: number;
  /** Keys present in A more often than in B (missing in B). */
  missing: string[];
  /** Keys present in B more often than in A (extra or doubled in B). */
  extra: string[];
}

export interface CompareResult {
  folders: FolderDiff[];
  missingFolders: string[];
  /** Human-readable list; empty when the two sides are equal. */
  problems: string[];
}

const IGNORED_FLAGS = new Set(["\\recent"]);

export function keyOf(m: MessageKey): string {
  const flags = m.flags.filter((f) => !IGNORED_FLAGS.has(f.toLowerCase())).sort();
  return `${m.sha256} ${flags.join(",")} ${m.internalDate}`;
}

function counts(keys: MessageKey[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const k of keys) {
    const s = keyOf(k);
    out.set(s, (out.get(s) ?? 0) + 1);
  }
  return out;
}

function minus(a: Map<string, number>, b: Map<string, number>): string[] {
  const out: string[] = [];
  for (const [k, n] of a) {
    const d = n - (b.get(k) ?? 0);
    for (let i = 0; i < d; i++) out.push(k);
  }
  return out;
}

/** Reads a box over IMAP with imapflow (TLS certificates not verified: test servers are self-signed). */
export function imapSide(options: { url: string; password: string; label?: string }): MailboxSide {
  const u = new URL(options.url);
  const secure = u.protocol === "imaps:";
  let client: ImapFlow | null = null;
  let delimiter = "/";
  const paths = new Map<string, string>();
  const connect = async (): Promise<ImapFlow> => {
    if (client) return client;
    client = new ImapFlow({
      host: u.hostname,
      port: Number(u.port || (secure ? 993 : 143)),
      secure,
      auth: { user: decodeURIComponent(u.username), pass: options.password },
      logger: false,
      tls: { rejectUnauthorized: false },
    });
    await client.connect();
    return client;
  };
  return {
    label: options.label ?? options.url,
    async folders() {
      const c = await connect();
      const out: string[] = [];
      for (const f of await c.list()) {
        const flags = [...f.flags].map((x) => x.toLowerCase());
        if (flags.includes("\\noselect") || flags.includes("\\nonexistent")) continue;
        delimiter = f.delimiter || "/";
        const name = f.path.split(delimiter).join("/");
        paths.set(name, f.path);
        out.push(name);
      }
      return out;
    },
    async messages(folder) {
      const c = await connect();
      if (paths.size === 0) await this.folders();
      const path = paths.get(folder) ?? folder;
      const lock = await c.getMailboxLock(path, { readOnly: true });
      try {
        const out: MessageKey[] = [];
        const box = c.mailbox;
        if (!box || box.exists === 0) return out;
        for await (const m of c.fetch("1:*", { uid: true, flags: true, internalDate: true, source: true })) {
          out.push({
            sha256: createHash("sha256").update(m.source!).digest("hex"),
            flags: [...(m.flags ?? [])],
            internalDate: Math.floor(new Date(m.internalDate!).getTime() / 1000),
          });
        }
        return out;
      } finally {
        lock.release();
      }
    },
    async close() {
      if (client) await client.logout().catch(() => {});
      client = null;
    },
  };
}

/**
 * Reads a Domicilio box straight from the store, hashing the bytes it reads back (not trusting blob ids).
 * Used until the IMAP server can serve the box; imapSide against it is the stronger check.
 */
export function storeSide(
  store: MailStore,
  mailboxId: number,
  label = `store box ${mailboxId}`,
): MailboxSide {
  return {
    label,
    async folders() {
      return (await store.listFolders(mailboxId)).map((f) => f.name);
    },
    async messages(folder) {
      const f = await store.getFolder(mailboxId, folder);
      if (!f) return [];
      const out: MessageKey[] = [];
      for (const m of await store.listMessages(f.id)) {
        const bytes = await store.readBlob(m.blobId);
        out.push({
          sha256: createHash("sha256").update(bytes).digest("hex"),
          flags: m.flags,
          internalDate: Math.floor(m.internalDate.getTime() / 1000),
        });
      }
      return out;
    },
    async close() {},
  };
}

/**
 * Compares every selectable folder of A with the folder `mapName(name)` of B. Folders of B that no
 * folder of A maps to are ignored (a new box may have its own empty defaults).
 */
export async function compareMailboxes(
  a: MailboxSide,
  b: MailboxSide,
  options: { mapName?: (name: string) => string } = {},
): Promise<CompareResult> {
  const mapName = options.mapName ?? ((n: string) => n);
  const result: CompareResult = { folders: [], missingFolders: [], problems: [] };
  const bFolders = new Set(await b.folders());
  for (const name of (await a.folders()).sort()) {
    const target = mapName(name);
    if (!bFolders.has(target)) {
      result.missingFolders.push(target);
      result.problems.push(
        `folder ${JSON.stringify(name)} → ${JSON.stringify(target)} missing in ${b.label}`,
      );
      continue;
    }
    const am = await a.messages(name);
    const bm = await b.messages(target);
    const ac = counts(am);
    const bc = counts(bm);
    const diff: FolderDiff = {
      a: name,
      b: target,
      aCount: am.length,
      bCount: bm.length,
      missing: minus(ac, bc),
      extra: minus(bc, ac),
    };
    result.folders.push(diff);
    if (diff.missing.length || diff.extra.length) {
      result.problems.push(
        `folder ${JSON.stringify(name)} → ${JSON.stringify(target)}: ${am.length} vs ${bm.length} messages, ` +
          `${diff.missing.length} missing, ${diff.extra.length} extra; first: ${diff.missing[0] ?? diff.extra[0]}`,
      );
    }
  }
  return result;
}
