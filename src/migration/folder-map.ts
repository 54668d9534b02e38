// The folder plan: which source folder goes where in the new box. Order of evidence (mission.md: members
// "copied only the Inbox" when tools guessed wrong):
//   1. special-use attributes the server announces (RFC 6154 §2): \Sent, \Drafts, \Trash, \Junk, \Archive;
//   2. the names real providers use, Italian and English (Aruba INBOX.Inviata, Legalmail INBOX/Spedite,
//      "Posta inviata", "Sent Items", "Cestino", "Posta indesiderata"…), only for a folder at the top or
//      directly under INBOX, and only when no folder already holds that role by attribute;
//   3. everything else keeps its name, with the server's separator translated to ours ("/") and a
//      namespace prefix such as Aruba's "INBOX." removed (RFC 2342 namespaces).
// Children follow their parent: INBOX.Inviata.2019 becomes Sent/2019. \Noselect parents become ordinary
// (empty) folders; virtual folders (\All, \Flagged: Gmail's "All Mail", "Starred") are skipped, since
// copying them would double every message.
import type { SpecialUse } from "../store/types.js";

export interface SourceFolder {
  /** Unicode path as the server lists it (modified UTF-7 decoded), with the server's separator. */
  path: string;
  delimiter: string;
  /** LIST attributes, e.g. \Noselect, \HasChildren, \Sent. */
  flags: string[];
  subscribed: boolean;
  /** The name exactly as the server listed it, for EXAMINE (not always `path` encoded again). */
  wire?: string;
}

export interface PlannedFolder {
  source: string;
  delimiter: string;
  /** Our name: Unicode, "/"-separated. */
  target: string;
  specialUse: SpecialUse | null;
  /** false for \Noselect / \NonExistent parents: created, nothing to copy. */
  selectable: boolean;
  subscribed: boolean;
  /** Why the folder is not copied at all (virtual folders); the folder is then not created. */
  skipped?: string;
  /** SourceFolder.wire */
  wire?: string;
}

/** Our names for special folders when the box has none with that role yet. */
export const SPECIAL_TARGET_NAMES: Record<SpecialUse, string> = {
  "\\Sent": "Sent",
  "\\Drafts": "Drafts",
  "\\Trash": "Trash",
  "\\Junk": "Junk",
  "\\Archive": "Archive",
  "\\All": "All",
  "\\Flagged": "Flagged",
};

const MAPPED_BY_ATTRIBUTE: SpecialUse[] = ["\\Sent", "\\Drafts", "\\Trash", "\\Junk", "\\Archive"];
const VIRTUAL: string[] = ["\\all", "\\flagged"];

/** Well-known names, compared case-insensitively on the last component. */
export const WELL_KNOWN_NAMES: Record<"\\Sent" | "\\Drafts" | "\\Trash" | "\\Junk", string[]> = {
  "\\Sent": [
    "sent",
    "sent items",
    "sent messages",
    "sent mail",
    "inviata",
    "inviati",
    "posta inviata",
    "elementi inviati",
    "messaggi inviati",
    "spedite",
    "posta spedita",
  ],
  "\\Drafts": ["drafts", "draft", "bozze", "bozza"],
  "\\Trash": [
    "trash",
    "deleted",
    "deleted items",
    "deleted messages",
    "cestino",
    "posta eliminata",
    "elementi eliminati",
    "messaggi eliminati",
  ],
  "\\Junk": ["junk", "junk e-mail", "junk email", "spam", "posta indesiderata", "indesiderata", "bulk mail"],
};

function roleByName(last: string): SpecialUse | null {
  const n = last.trim().toLowerCase();
  for (const [role, names] of Object.entries(WELL_KNOWN_NAMES)) {
    if (names.includes(n)) return role as SpecialUse;
  }
  return null;
}

/** Code-unit order: the same on every machine (localeCompare depends on the ICU data at hand). */
function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function isInboxName(s: string): boolean {
  return s.toUpperCase() === "INBOX";
}

/** Splits a source path into parts relative to the personal namespace (prefix removed). */
function relativeParts(f: SourceFolder, prefix: string): string[] {
  let p = f.path;
  if (isInboxName(p)) return ["INBOX"];
  if (prefix && p.toLowerCase().startsWith(prefix.toLowerCase()) && p.length > prefix.length) {
    p = p.slice(prefix.length);
  }
  const d = f.delimiter || "/";
  // A "/" inside a name on a server whose separator is not "/" would become hierarchy for us.
  return p.split(d).map((part) => (d === "/" ? part : part.replaceAll("/", "_")));
}

export function planFolders(
  folders: SourceFolder[],
  options: { namespacePrefix?: string } = {},
): PlannedFolder[] {
  const prefix = options.namespacePrefix ?? "";
  const rows = folders.map((f) => {
    const flags = f.flags.map((x) => x.toLowerCase());
    const parts = relativeParts(f, prefix);
    const attr = MAPPED_BY_ATTRIBUTE.find((r) => flags.includes(r.toLowerCase())) ?? null;
    return {
      f,
      parts,
      attr,
      selectable: !flags.includes("\\noselect") && !flags.includes("\\nonexistent"),
      virtual: VIRTUAL.some((v) => flags.includes(v)),
    };
  });
  // 1. attributes; 2. names, for roles no folder has by attribute (the first such folder wins).
  const taken = new Set<SpecialUse>(rows.filter((r) => r.attr).map((r) => r.attr!));
  const role = new Map<(typeof rows)[number], SpecialUse>();
  for (const r of rows) if (r.attr && r.selectable) role.set(r, r.attr);
  // Whatever order the server listed them in, the same folder wins a role by name: the shallowest (a
  // top-level "Sent" before "INBOX/Spedite"), then the more usual name, then the path. A plan that
  // depended on the listing's order could move a folder to another target between two runs, and the
  // ledger would then copy it again there.
  const rank = (r: (typeof rows)[number]) => {
    const last = r.parts[r.parts.length - 1]!.trim().toLowerCase();
    const use = roleByName(last);
    return use ? WELL_KNOWN_NAMES[use as keyof typeof WELL_KNOWN_NAMES].indexOf(last) : 0;
  };
  const byName = [...rows].sort(
    (a, b) => a.parts.length - b.parts.length || rank(a) - rank(b) || compareText(a.f.path, b.f.path),
  );
  for (const r of byName) {
    if (role.has(r) || !r.selectable || r.virtual) continue;
    const topLevel = r.parts.length === 1 || (r.parts.length === 2 && isInboxName(r.parts[0]!));
    if (!topLevel) continue;
    const named = roleByName(r.parts[r.parts.length - 1]!);
    if (named && !taken.has(named)) {
      taken.add(named);
      role.set(r, named);
    }
  }
  // Renamed prefixes, so children follow their parent.
  const renamed = new Map<string, string>();
  for (const [r, use] of role) renamed.set(r.parts.join("\u0000"), SPECIAL_TARGET_NAMES[use]);
  const out: PlannedFolder[] = [];
  for (const r of rows) {
    let target: string;
    const use = role.get(r) ?? null;
    if (isInboxName(r.parts[0]!) && r.parts.length === 1) target = "INBOX";
    else if (use) target = SPECIAL_TARGET_NAMES[use];
    else {
      let parts = r.parts;
      for (let i = parts.length - 1; i >= 1; i--) {
        const hit = renamed.get(parts.slice(0, i).join("\u0000"));
        if (hit) {
          parts = [hit, ...parts.slice(i)];
          break;
        }
      }
      if (isInboxName(parts[0]!)) parts = ["INBOX", ...parts.slice(1)];
      target = parts.join("/");
    }
    const planned: PlannedFolder = {
      source: r.f.path,
      delimiter: r.f.delimiter,
      target: target.normalize("NFC"),
      specialUse: use,
      selectable: r.selectable,
      subscribed: r.f.subscribed,
      ...(r.f.wire !== undefined ? { wire: r.f.wire } : {}),
    };
    if (r.virtual)
      planned.skipped = "cartella virtuale (\\All o \\Flagged): i suoi messaggi sono già nelle altre";
    out.push(planned);
  }
  return out;
}
