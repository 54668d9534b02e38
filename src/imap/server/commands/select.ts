// SELECT and EXAMINE (RFC 9051 §6.3.2-3) with CONDSTORE and QRESYNC parameters (RFC 7162 §3.1.8, §3.2.5),
// CLOSE and UNSELECT (RFC 3691).
import { formatSet, readSequenceSet } from "../../proto/sequence-set.js";
import type { Value } from "../../proto/serializer.js";
import { ImapBad } from "../errors.js";
import { readMailboxName } from "../mailbox-names.js";
import { AUTHED, type CommandSpec, SELECTED } from "../registry.js";

function selectCommand(name: "SELECT" | "EXAMINE"): CommandSpec {
  return {
    name,
    states: AUTHED,
    capabilities: name === "SELECT" ? ["CONDSTORE", "QRESYNC"] : [],
    async run(session, r, { tag }) {
      r.sp();
      const folderName = readMailboxName(session, r);
      type Qresync = { uidValidity: number; modseq: number; known: number[] | null };
      // Assigned inside the parenList callback: the cast keeps TypeScript from narrowing it to null.
      let qresync = null as Qresync | null;
      if (!r.atEnd) {
        r.sp();
        r.parenList(() => {
          const p = r.atom().toUpperCase();
          if (p === "CONDSTORE") session.enabled.add("CONDSTORE");
          else if (p === "QRESYNC") {
            if (!session.enabled.has("QRESYNC")) throw new ImapBad("QRESYNC must be enabled first");
            r.sp();
            r.expect("(");
            const uidValidity = r.nzNumber();
            r.sp();
            const modseq = r.number();
            let known: number[] | null = null;
            if (r.take(" ")) {
              if (r.peekChar() !== "(") {
                const set = readSequenceSet(r);
                if ("saved" in set) throw new ImapBad("$ not allowed here");
                known = set.ranges.flatMap((rg) => {
                  const a = Math.min(rg.from || rg.to, rg.to || rg.from);
                  const b = Math.max(rg.from, rg.to);
                  return b - a > 1_000_000 ? [] : Array.from({ length: b - a + 1 }, (_, i) => a + i);
                });
                r.take(" ");
              }
              // The sequence match data is only an optimisation; we read and ignore it.
              if (r.peekChar() === "(") {
                r.expect("(");
                readSequenceSet(r);
                r.sp();
                readSequenceSet(r);
                r.expect(")");
              }
            }
            r.expect(")");
            qresync = { uidValidity, modseq, known };
          } else throw new ImapBad(`Unknown SELECT parameter ${p}`);
        });
      }
      r.end();
      const sel = await session.select(folderName, name === "EXAMINE");
      const f = sel.folder;
      for (const flags of sel.flags.values())
        for (const fl of flags) if (!fl.startsWith("\\")) sel.keywords.add(fl);
      session.announceFlags(sel);
      session.claimRecent(sel, sel.uids);
      session.untagged(sel.exists, "EXISTS");
      session.untagged(sel.recent.size, "RECENT");
      const firstUnseen = sel.uids.findIndex((u) => !sel.flags.get(u)!.includes("\\Seen"));
      if (firstUnseen >= 0) session.untagged("OK", `[UNSEEN ${firstUnseen + 1}]`, "First unseen");
      session.untagged("OK", `[UIDVALIDITY ${f.uidValidity}]`, "UIDs valid");
      session.untagged("OK", `[UIDNEXT ${f.uidNext}]`, "Predicted next UID");
      session.untagged("OK", `[HIGHESTMODSEQ ${f.highestModseq}]`, "Highest");
      if (qresync && qresync.uidValidity === f.uidValidity) {
        // RFC 7162 §3.2.5.1: what vanished and what changed since the client's modseq.
        let vanished = await session.store.expungedSince(f.id, qresync.modseq);
        if (qresync.known) {
          const known = new Set(qresync.known);
          vanished = vanished.filter((u) => known.has(u));
        }
        vanished = vanished.filter((u) => sel.seqOf(u) === 0);
        if (vanished.length) session.untagged("VANISHED", "(EARLIER)", formatSet(vanished));
        const changed = await session.store.listMessages(f.id, { changedSince: qresync.modseq });
        for (const m of changed) {
          const seq = sel.seqOf(m.uid);
          if (seq === 0) continue;
          const items: Value[] = ["UID", m.uid, "FLAGS", session.flagList(sel, m.uid), "MODSEQ", [m.modseq]];
          session.untagged(seq, "FETCH", items);
        }
      }
      session.tagged(tag, "OK", `${name} completed`, sel.readOnly ? "READ-ONLY" : "READ-WRITE");
    },
  };
}

export const select = selectCommand("SELECT");
export const examine = selectCommand("EXAMINE");

export const close: CommandSpec = {
  name: "CLOSE",
  states: SELECTED,
  async run(session, r, { tag }) {
    r.end();
    const sel = session.selected!;
    // RFC 9051 §6.4.1: silently expunge \Deleted messages when the folder is read-write.
    if (!sel.readOnly) await session.store.expunge(sel.folder.id);
    session.unselect();
    session.tagged(tag, "OK", "CLOSE completed");
  },
};

export const unselect: CommandSpec = {
  name: "UNSELECT",
  states: SELECTED,
  capabilities: ["UNSELECT"],
  async run(session, r, { tag }) {
    r.end();
    session.unselect();
    session.tagged(tag, "OK", "UNSELECT completed");
  },
};
