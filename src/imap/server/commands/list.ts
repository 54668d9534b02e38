// LIST with LIST-EXTENDED (RFC 5258), SPECIAL-USE (RFC 6154), LIST-STATUS (RFC 5819), CHILDREN (RFC 3348);
// LSUB (RFC 3501 §6.3.9).

import { decodeMutf7 } from "../../../mime/mutf7.js";
import type { Folder } from "../../../store/types.js";
import type { Reader } from "../../proto/reader.js";
import { str } from "../../proto/serializer.js";
import { ImapBad } from "../errors.js";
import { encodeName, normalizeInbox, SEPARATOR } from "../mailbox-names.js";
import { AUTHED, type CommandSpec } from "../registry.js";
import type { Session } from "../session.js";
import { readStatusItems, statusValues } from "./status.js";

/** Compiles a LIST pattern: "*" matches anything, "%" anything but the separator (RFC 9051 §6.3.9). */
export function patternRegex(pattern: string): RegExp {
  let re = "";
  for (const ch of pattern) {
    if (ch === "*") re += ".*";
    else if (ch === "%") re += "[^/]*";
    else re += ch.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  }
  // INBOX is case-insensitive (RFC 9051 §5.1): compare on the normalized spelling.
  return new RegExp(`^${re}$`, "s");
}

function readPatternText(session: Session, r: Reader): string {
  const raw = r.listMailbox();
  if (session.utf8 || /[^\x00-\x7f]/.test(raw)) return raw;
  try {
    return decodeMutf7(raw);
  } catch {
    return raw;
  }
}

interface Entry {
  name: string;
  folder: Folder | null;
  hasChildren: boolean;
}

function entries(folders: Folder[]): Entry[] {
  const byName = new Map<string, Entry>();
  for (const f of folders) byName.set(f.name, { name: f.name, folder: f, hasChildren: false });
  // Parents that do not exist as folders still appear in the hierarchy (\NonExistent, RFC 5258 §3).
  for (const f of folders) {
    const parts = f.name.split(SEPARATOR);
    for (let i = 1; i < parts.length; i++) {
      const p = parts.slice(0, i).join(SEPARATOR);
      const e = byName.get(p);
      if (e) e.hasChildren = true;
      else byName.set(p, { name: p, folder: null, hasChildren: true });
    }
  }
  return [...byName.values()].sort((a, b) =>
    a.name === "INBOX" ? -1 : b.name === "INBOX" ? 1 : a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
  );
}

export const list: CommandSpec = {
  name: "LIST",
  states: AUTHED,
  capabilities: ["CHILDREN", "LIST-EXTENDED", "LIST-STATUS", "SPECIAL-USE"],
  async run(session, r, { tag }) {
    r.sp();
    const selection = new Set<string>();
    if (r.peekChar() === "(") {
      for (const o of r.parenList(() => r.atom().toUpperCase())) selection.add(o);
      r.sp();
    }
    const ref = session.utf8 ? r.string() : decodeRef(r.astringBytes());
    r.sp();
    const patterns: string[] = [];
    if (r.peekChar() === "(") {
      r.expect("(");
      while (!r.take(")")) {
        if (patterns.length) r.sp();
        patterns.push(readPatternText(session, r));
      }
    } else patterns.push(readPatternText(session, r));
    const ret = new Set<string>();
    let statusItems: string[] | null = null;
    if (!r.atEnd) {
      r.sp();
      r.expect("RETURN ");
      r.parenList(() => {
        const o = r.atom().toUpperCase();
        if (o === "STATUS") {
          r.sp();
          statusItems = readStatusItems(r);
        } else ret.add(o);
      });
    }
    r.end();
    for (const o of selection)
      if (!["SUBSCRIBED", "REMOTE", "RECURSIVEMATCH", "SPECIAL-USE"].includes(o))
        throw new ImapBad(`Unknown selection option ${o}`);
    if (selection.has("RECURSIVEMATCH") && selection.size === 1) throw new ImapBad("RECURSIVEMATCH alone");

    // RFC 9051 §6.3.9: an empty pattern asks for the separator and the root.
    if (patterns.length === 1 && patterns[0] === "") {
      session.untagged("LIST", ["\\Noselect"], str(SEPARATOR), str(""));
      await session.finish(tag, "LIST completed");
      return;
    }
    const folders = await session.store.listFolders(session.mailbox!.id);
    const regexes = patterns.map((p) => patternRegex(normalizeInbox(ref + p)));
    const wantSubscribed = selection.has("SUBSCRIBED");
    const showSubscribed = wantSubscribed || ret.has("SUBSCRIBED");
    const onlySpecial = selection.has("SPECIAL-USE");
    for (const e of entries(folders)) {
      if (!regexes.some((re) => re.test(e.name))) continue;
      if (wantSubscribed && !e.folder?.subscribed) continue;
      if (onlySpecial && !e.folder?.specialUse) continue;
      const attrs: string[] = [];
      if (!e.folder) attrs.push("\\NonExistent", "\\Noselect");
      attrs.push(e.hasChildren ? "\\HasChildren" : "\\HasNoChildren");
      if (showSubscribed && e.folder?.subscribed) attrs.push("\\Subscribed");
      if (e.folder?.specialUse) attrs.push(e.folder.specialUse);
      session.untagged("LIST", attrs, str(SEPARATOR), encodeName(session, e.name));
      if (statusItems && e.folder) {
        session.untagged(
          "STATUS",
          encodeName(session, e.name),
          await statusValues(session, e.folder, statusItems),
        );
      }
    }
    await session.finish(tag, "LIST completed");
  },
};

function decodeRef(b: Buffer): string {
  try {
    return decodeMutf7(b.toString("latin1"));
  } catch {
    return b.toString("utf8");
  }
}

export const lsub: CommandSpec = {
  name: "LSUB",
  states: AUTHED,
  async run(session, r, { tag }) {
    r.sp();
    const ref = decodeRef(r.astringBytes());
    r.sp();
    const pattern = readPatternText(session, r);
    r.end();
    const re = patternRegex(normalizeInbox(ref + pattern));
    const folders = await session.store.listFolders(session.mailbox!.id);
    for (const e of entries(folders)) {
      if (!e.folder?.subscribed || !re.test(e.name)) continue;
      session.untagged("LSUB", [], str(SEPARATOR), encodeName(session, e.name));
    }
    await session.finish(tag, "LSUB completed");
  },
};
