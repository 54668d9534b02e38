// The old box's folders from its LIST and LSUB answers (source-prepare.ts): names decoded, INBOX's name
// made canonical, subscriptions attached, in a stable order. Pure; what the folder plan (folder-map.ts)
// reads. Our own rather than imapflow's listing, which the migration used to load on purpose for this
// (0.1 s of start-up); the rules followed are the RFCs', and the servers' habits noted below.
import { decodeMutf7 } from "../mime/mutf7.js";
import type { SourceFolder } from "./folder-map.js";
import type { ListedName, Namespaces } from "./imap-response.js";

/** Special-use attributes first (RFC 6154 §2), in the order a mail program shows them. */
const ROLE_ORDER = ["\\sent", "\\drafts", "\\archive", "\\junk", "\\trash", "\\all", "\\flagged"];

/** A wire name as text: modified UTF-7 decoded; a name that is not valid modified UTF-7 is kept as sent. */
export function decodeName(wire: string): string {
  if (!wire.includes("&") || /[^\x20-\x7e]/.test(wire)) return wire;
  try {
    return decodeMutf7(wire);
  } catch {
    return wire;
  }
}

function pathOf(l: ListedName): string {
  let path = decodeName(l.name);
  // RFC 9051 §5.1: INBOX is case-insensitive; every other name is the server's as written.
  if (path.toUpperCase() === "INBOX") return "INBOX";
  // Some servers write a separator before top-level names ("/Sent"): the name is the rest.
  if (l.delimiter && path.startsWith(l.delimiter) && path.length > 1) path = path.slice(1);
  return path;
}

/**
 * Whether a folder is the box's own (RFC 2342): INBOX, and under a personal prefix when the server names
 * one; never under another user's or the shared namespace's prefix ("user.", "#shared/", "Other Users/"),
 * whose folders `LIST "" "*"` also returns on some servers but are not the member's to copy.
 */
function ownFolder(path: string, ns: Namespaces): boolean {
  if (path === "INBOX") return true;
  const lower = path.toLowerCase();
  const starts = (prefix: string) => prefix !== "" && lower.startsWith(prefix.toLowerCase());
  // The prefix's own name ("#shared", "user") is that namespace's root, not a folder of the box.
  const root = (prefix: string) => prefix !== "" && lower === prefix.toLowerCase().replace(/[./\\]$/, "");
  if (ns.others.some((p) => starts(p) || root(p))) return false;
  if (ns.personal.length === 0 || ns.personal.includes("")) return true;
  return ns.personal.some(starts);
}

/**
 * `lsub` null: the server answered neither LSUB nor LIST (SUBSCRIBED), so which folders are subscribed
 * is unknown and every folder counts as subscribed, rather than none.
 */
export function listedFolders(
  list: ListedName[],
  lsub: ListedName[] | null,
  namespaces: Namespaces = { personal: [], others: [] },
): SourceFolder[] {
  // `LSUB "" "*"` names every subscribed folder, \Noselect or not (the RFC 3501 §6.3.9 case of a
  // \Noselect parent that is not itself subscribed is that of the "%" wildcard).
  const subscribed = lsub ? new Set(lsub.map(pathOf)) : null;
  const byPath = new Map<string, SourceFolder>();
  for (const l of list) {
    const path = pathOf(l);
    if (byPath.has(path) || !ownFolder(path, namespaces)) continue; // a repeated answer counts once
    const flags = [...l.attributes];
    // RFC 5258 §3: \NonExistent implies \Noselect.
    const lower = flags.map((f) => f.toLowerCase());
    if (lower.includes("\\nonexistent") && !lower.includes("\\noselect")) flags.push("\\Noselect");
    byPath.set(path, {
      path,
      // A server that writes names raw (UTF-8) or not quite in modified UTF-7 ("Tom & Jerry") opens
      // them under the name it listed, which encoding the decoded name again would not give back.
      ...(path === "INBOX" ? {} : { wire: l.name }),
      delimiter: l.delimiter ?? "",
      flags,
      // INBOX is always there for a mail program, subscribed or not.
      subscribed: subscribed === null || path === "INBOX" || subscribed.has(path),
    });
  }
  const role = (f: SourceFolder) => {
    if (f.path === "INBOX") return -1;
    const i = ROLE_ORDER.findIndex((r) => f.flags.some((x) => x.toLowerCase() === r));
    return i < 0 ? ROLE_ORDER.length : i;
  };
  // Then by name, one level at a time: a parent before its children, siblings alphabetically.
  const parts = (f: SourceFolder) => (f.delimiter ? f.path.split(f.delimiter) : [f.path]);
  return [...byPath.values()].sort((a, b) => {
    const r = role(a) - role(b);
    if (r !== 0) return r;
    const pa = parts(a);
    const pb = parts(b);
    for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
      if (pa[i] !== pb[i]) return pa[i]! < pb[i]! ? -1 : 1;
    }
    return pa.length - pb.length;
  });
}
