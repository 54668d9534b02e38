// STATUS (RFC 9051 §6.3.11) with HIGHESTMODSEQ (RFC 7162), SIZE and DELETED (RFC 9051), APPENDLIMIT
// (RFC 7889).
import type { Folder } from "../../../store/types.js";
import type { Reader } from "../../proto/reader.js";
import type { Value } from "../../proto/serializer.js";
import { ImapBad, ImapNo } from "../errors.js";
import { encodeName, readMailboxName } from "../mailbox-names.js";
import { AUTHED, type CommandSpec } from "../registry.js";
import type { Session } from "../session.js";

const ITEMS = new Set([
  "MESSAGES",
  "RECENT",
  "UIDNEXT",
  "UIDVALIDITY",
  "UNSEEN",
  "DELETED",
  "SIZE",
  "HIGHESTMODSEQ",
  "APPENDLIMIT",
]);

export function readStatusItems(r: Reader): string[] {
  const items = r.parenList(() => r.atom().toUpperCase());
  if (items.length === 0) throw new ImapBad("STATUS needs at least one item");
  for (const i of items) if (!ITEMS.has(i)) throw new ImapBad(`Unknown STATUS item ${i}`);
  return items;
}

export async function statusValues(session: Session, folder: Folder, items: string[]): Promise<Value[]> {
  const needList = items.some((i) => i === "UNSEEN" || i === "DELETED" || i === "SIZE" || i === "RECENT");
  const msgs = needList ? await session.store.listMessages(folder.id) : [];
  const out: Value[] = [];
  for (const i of items) {
    out.push(i);
    switch (i) {
      case "MESSAGES":
        out.push(folder.messages);
        break;
      case "RECENT": {
        const boundary = session.ctx.recentBoundary.get(folder.id);
        out.push(boundary === undefined ? 0 : msgs.filter((m) => m.uid > boundary).length);
        break;
      }
      case "UIDNEXT":
        out.push(folder.uidNext);
        break;
      case "UIDVALIDITY":
        out.push(folder.uidValidity);
        break;
      case "UNSEEN":
        out.push(msgs.filter((m) => !m.flags.includes("\\Seen")).length);
        break;
      case "DELETED":
        out.push(msgs.filter((m) => m.flags.includes("\\Deleted")).length);
        break;
      case "SIZE":
        out.push(msgs.reduce((n, m) => n + m.size, 0));
        break;
      case "HIGHESTMODSEQ":
        out.push(folder.highestModseq);
        break;
      case "APPENDLIMIT":
        out.push(session.ctx.limits.maxAppendBytes);
        break;
    }
  }
  return out;
}

export const status: CommandSpec = {
  name: "STATUS",
  states: AUTHED,
  async run(session, r, { tag }) {
    r.sp();
    const name = readMailboxName(session, r);
    r.sp();
    const items = readStatusItems(r);
    r.end();
    const folder = await session.store.getFolder(session.mailbox!.id, name);
    if (!folder) throw new ImapNo("NONEXISTENT", "No such mailbox");
    session.untagged("STATUS", encodeName(session, name), await statusValues(session, folder, items));
    await session.finish(tag, "STATUS completed");
  },
};
