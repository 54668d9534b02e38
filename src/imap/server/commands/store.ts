// STORE and UID STORE (RFC 9051 §6.4.6) with UNCHANGEDSINCE and MODIFIED (RFC 7162 §3.1.3).
import type { FlagMode } from "../../../store/types.js";
import { formatSet, readSequenceSet } from "../../proto/sequence-set.js";
import type { Value } from "../../proto/serializer.js";
import { ImapBad } from "../errors.js";
import { uidsOf } from "../message-set.js";
import { type CommandSpec, SELECTED } from "../registry.js";

export const store: CommandSpec = {
  name: "STORE",
  states: SELECTED,
  uid: true,
  async run(session, r, { tag, uid }) {
    r.sp();
    const set = readSequenceSet(r);
    r.sp();
    let unchangedSince: number | undefined;
    if (r.take("(")) {
      r.expect("UNCHANGEDSINCE ");
      unchangedSince = r.number();
      r.expect(")");
      r.sp();
      session.enabled.add("CONDSTORE");
    }
    const op = r.atom().toUpperCase();
    const m = /^([+-]?)FLAGS(\.SILENT)?$/.exec(op);
    if (!m) throw new ImapBad("Expected FLAGS, +FLAGS or -FLAGS");
    const mode: FlagMode = m[1] === "+" ? "add" : m[1] === "-" ? "remove" : "replace";
    const silent = !!m[2];
    r.sp();
    let flags: string[];
    if (r.peekChar() === "(") flags = r.flagList();
    else {
      flags = [r.flag()];
      while (!r.atEnd) {
        r.sp();
        flags.push(r.flag());
      }
    }
    r.end();
    if (flags.some((f) => f.toLowerCase() === "\\recent" || f === "\\*"))
      throw new ImapBad("Flag cannot be stored");
    const sel = session.selected!;
    if (sel.readOnly) {
      // Dovecot's choice (RFC 9051 §6.4.6 allows NO too): nothing changes, and the client is told so.
      await session.finish(tag, "Store ignored with read-only mailbox", { expunge: uid });
      return;
    }
    const uids = uidsOf(sel, set, uid).filter((u) => !sel.pendingExpunge.has(u));
    const res = uids.length
      ? await session.store.storeFlags(sel.folder.id, {
          uids,
          mode,
          flags,
          ...(unchangedSince !== undefined ? { unchangedSince } : {}),
        })
      : { updated: [], modified: [] };
    const updated = new Set<number>();
    for (const u of res.updated) {
      if (sel.seqOf(u.uid) === 0) continue;
      sel.flags.set(u.uid, u.flags);
      sel.modseqs.set(u.uid, u.modseq);
      updated.add(u.uid);
    }
    const modified = new Set(res.modified);
    for (const u of uids) {
      if (modified.has(u)) continue;
      const seq = sel.seqOf(u);
      if (seq === 0) continue;
      const changed = updated.has(u);
      // .SILENT: no FETCH, except MODSEQ for what changed under CONDSTORE (RFC 7162 §3.1.3).
      if (silent && !(changed && session.condstore)) continue;
      if (!silent || changed) {
        const values: Value[] = [];
        if (uid) values.push("UID", u);
        if (!silent) values.push("FLAGS", session.flagList(sel, u));
        if (session.condstore) values.push("MODSEQ", [sel.modseqs.get(u) ?? 0]);
        session.untagged(seq, "FETCH", values);
      }
    }
    let code: string | null = null;
    if (modified.size) {
      const nums = uid ? [...modified] : [...modified].map((u) => sel.seqOf(u)).filter((n) => n > 0);
      code = `MODIFIED ${formatSet(nums)}`;
    }
    await session.finish(tag, "STORE completed", { code, expunge: uid });
  },
};
