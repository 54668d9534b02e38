// EXPUNGE (RFC 9051 §6.4.3) and UID EXPUNGE (RFC 4315 §2.1).
import { readSequenceSet } from "../../proto/sequence-set.js";
import { uidsOf } from "../message-set.js";
import { type CommandSpec, SELECTED } from "../registry.js";

export const expunge: CommandSpec = {
  name: "EXPUNGE",
  states: SELECTED,
  uid: true,
  async run(session, r, { tag, uid }) {
    const sel = session.selected!;
    let uids: number[] | undefined;
    if (uid) {
      r.sp();
      uids = uidsOf(sel, readSequenceSet(r), true);
    }
    r.end();
    if (sel.readOnly) {
      // As Dovecot: nothing is removed from a mailbox opened with EXAMINE, and that is not an error.
      await session.finish(tag, "EXPUNGE completed, mailbox is read-only");
      return;
    }
    if (!uids || uids.length > 0) await session.store.expunge(sel.folder.id, uids ? { uids } : {});
    const code = session.condstore
      ? `HIGHESTMODSEQ ${(await session.store.getFolderById(sel.folder.id))?.highestModseq ?? sel.highestModseq}`
      : null;
    await session.finish(tag, "EXPUNGE completed", { code });
  },
};
