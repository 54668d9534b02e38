// COPY and MOVE (RFC 9051 §6.4.7, RFC 6851) with COPYUID (RFC 4315 §3).
import { formatSet, readSequenceSet } from "../../proto/sequence-set.js";
import { ImapNo } from "../errors.js";
import { readMailboxName } from "../mailbox-names.js";
import { uidsOf } from "../message-set.js";
import { type CommandSpec, SELECTED } from "../registry.js";

function copyCommand(name: "COPY" | "MOVE"): CommandSpec {
  return {
    name,
    states: SELECTED,
    uid: true,
    capabilities: name === "MOVE" ? ["MOVE"] : [],
    async run(session, r, { tag, uid }) {
      r.sp();
      const set = readSequenceSet(r);
      r.sp();
      const target = readMailboxName(session, r);
      r.end();
      const sel = session.selected!;
      const uids = uidsOf(sel, set, uid).filter((u) => !sel.pendingExpunge.has(u));
      if (name === "MOVE" && sel.readOnly) throw new ImapNo("READ-ONLY", "Mailbox is read-only");
      const dest = await session.store.getFolder(session.mailbox!.id, target);
      if (!dest) throw new ImapNo("TRYCREATE", "No such mailbox");
      if (uids.length === 0) {
        await session.finish(tag, `${name} completed, nothing to do`);
        return;
      }
      const res =
        name === "MOVE"
          ? await session.store.moveMessages(sel.folder.id, uids, dest.id)
          : await session.store.copyMessages(sel.folder.id, uids, dest.id);
      const code = res.mapping.length
        ? `COPYUID ${res.uidValidity} ${formatSet(
            res.mapping.map((m) => m.sourceUid),
            false,
          )} ${formatSet(
            res.mapping.map((m) => m.targetUid),
            false,
          )}`
        : null;
      if (name === "MOVE") {
        // RFC 6851 §4.3: COPYUID comes untagged before the EXPUNGE responses.
        if (code) session.untagged("OK", `[${code}]`, "Moved");
        await session.finish(tag, "MOVE completed");
      } else await session.finish(tag, "COPY completed", { code, expunge: uid });
    },
  };
}

export const copy = copyCommand("COPY");
export const move = copyCommand("MOVE");
