// FETCH and UID FETCH (RFC 9051 §6.4.5) with BINARY (RFC 3516), CONDSTORE CHANGEDSINCE/MODSEQ and
// QRESYNC VANISHED (RFC 7162). Answers in batches and waits for slow readers between them.
import { bodyStructure } from "../../../mime/bodystructure.js";
import { envelope } from "../../../mime/envelope.js";
import { binaryBytes, sectionBytes } from "../../../mime/sections.js";
import type { MessageMeta } from "../../../store/types.js";
import { type FetchItem, readFetchItems, readFetchModifiers } from "../../proto/fetch-items.js";
import { formatSet, readSequenceSet } from "../../proto/sequence-set.js";
import { lit, str, type Value } from "../../proto/serializer.js";
import { ImapBad, ImapNo } from "../errors.js";
import { formatInternalDate, type LoadedMessage, loadMessage, sexpToValue } from "../message-data.js";
import { uidsOf } from "../message-set.js";
import { type CommandSpec, SELECTED } from "../registry.js";
import type { Session } from "../session.js";

function needsBytes(item: FetchItem): boolean {
  if (item.kind !== "simple") return true;
  return ["ENVELOPE", "BODY", "BODYSTRUCTURE", "RFC822", "RFC822.HEADER", "RFC822.TEXT"].includes(item.name);
}

function setsSeen(item: FetchItem): boolean {
  if (item.kind === "body") return !item.peek;
  if (item.kind === "binary") return !item.peek && !item.size;
  return item.name === "RFC822" || item.name === "RFC822.TEXT";
}

function partial(b: Buffer, p: { start: number; length: number } | undefined): Buffer {
  if (!p) return b;
  if (p.start >= b.length) return Buffer.alloc(0);
  return b.subarray(p.start, p.start + p.length);
}

export const fetch: CommandSpec = {
  name: "FETCH",
  states: SELECTED,
  uid: true,
  capabilities: ["BINARY", "CONDSTORE"],
  async run(session, r, { tag, uid }) {
    r.sp();
    const set = readSequenceSet(r);
    r.sp();
    const items = readFetchItems(r);
    const mods = readFetchModifiers(r);
    r.end();
    const sel = session.selected!;
    if (mods.vanished && (!uid || !session.enabled.has("QRESYNC") || mods.changedSince === undefined))
      throw new ImapBad("VANISHED needs UID FETCH, QRESYNC and CHANGEDSINCE");
    const uids = uidsOf(sel, set, uid);
    if (mods.changedSince !== undefined) session.enabled.add("CONDSTORE");
    if (uid && !items.some((i) => i.kind === "simple" && i.name === "UID"))
      items.unshift({ kind: "simple", name: "UID" });
    const wantModseq =
      mods.changedSince !== undefined || items.some((i) => i.kind === "simple" && i.name === "MODSEQ");
    if (wantModseq) session.enabled.add("CONDSTORE");
    if (mods.changedSince !== undefined && !items.some((i) => i.kind === "simple" && i.name === "MODSEQ"))
      items.push({ kind: "simple", name: "MODSEQ" });
    const bytesNeeded = items.some(needsBytes);
    const markSeen = !sel.readOnly && items.some(setsSeen);

    if (mods.vanished && mods.changedSince !== undefined) {
      const gone = await session.store.expungedSince(sel.folder.id, mods.changedSince);
      const inSet = new Set(uidsOf(sel, set, true));
      const vanished = gone.filter((u) => inSet.has(u) || (u > sel.lastUid && "ranges" in set));
      if (vanished.length) session.untagged("VANISHED", "(EARLIER)", formatSet(vanished));
    }
    const batch = session.ctx.limits.fetchBatch;
    for (let i = 0; i < uids.length; i += batch) {
      const chunk = uids.slice(i, i + batch);
      let metas = await session.store.getMessagesByUid(sel.folder.id, chunk);
      if (mods.changedSince !== undefined) metas = metas.filter((m) => m.modseq > mods.changedSince!);
      if (markSeen) {
        const unseen = metas.filter((m) => !m.flags.includes("\\Seen")).map((m) => m.uid);
        if (unseen.length) {
          const res = await session.store.storeFlags(sel.folder.id, {
            uids: unseen,
            mode: "add",
            flags: ["\\Seen"],
          });
          const byUid = new Map(res.updated.map((u) => [u.uid, u]));
          metas = metas.map((m) => {
            const u = byUid.get(m.uid);
            return u ? { ...m, flags: u.flags, modseq: u.modseq } : m;
          });
          for (const m of metas) {
            if (!byUid.has(m.uid)) continue;
            (m as MessageMeta & { seenNow?: true }).seenNow = true;
            sel.flags.set(m.uid, m.flags);
            sel.modseqs.set(m.uid, m.modseq);
          }
        }
      }
      metas.sort((a, b) => a.uid - b.uid);
      for (const meta of metas) {
        const seq = sel.seqOf(meta.uid);
        if (seq === 0) continue;
        const loaded = bytesNeeded ? await loadMessage(session.store, meta) : null;
        const values = fetchValues(session, meta, loaded, items);
        if (
          (meta as { seenNow?: true }).seenNow &&
          !items.some((x) => x.kind === "simple" && x.name === "FLAGS")
        )
          values.push("FLAGS", session.flagList(sel, meta.uid));
        session.untagged(seq, "FETCH", values);
        await session.drain();
        if (session.isClosed) return;
      }
    }
    await session.finish(tag, "FETCH completed", { expunge: uid });
  },
};

function fetchValues(
  session: Session,
  meta: MessageMeta,
  msg: LoadedMessage | null,
  items: FetchItem[],
): Value[] {
  const sel = session.selected!;
  const out: Value[] = [];
  for (const item of items) {
    if (item.kind === "simple") {
      switch (item.name) {
        case "UID":
          out.push("UID", meta.uid);
          break;
        case "FLAGS":
          // What we send is what the client now knows: keep the view in step.
          sel.flags.set(meta.uid, meta.flags);
          sel.modseqs.set(meta.uid, meta.modseq);
          out.push("FLAGS", session.flagList(sel, meta.uid));
          break;
        case "INTERNALDATE":
          out.push("INTERNALDATE", str(formatInternalDate(meta.internalDate)));
          break;
        case "RFC822.SIZE":
          out.push("RFC822.SIZE", meta.size);
          break;
        case "MODSEQ":
          out.push("MODSEQ", [meta.modseq]);
          break;
        case "ENVELOPE":
          out.push("ENVELOPE", sexpToValue(envelope(msg!.mime.headers)));
          break;
        case "BODY":
          out.push("BODY", sexpToValue(bodyStructure(msg!.bytes, msg!.mime, false)));
          break;
        case "BODYSTRUCTURE":
          out.push("BODYSTRUCTURE", sexpToValue(bodyStructure(msg!.bytes, msg!.mime, true)));
          break;
        case "RFC822":
          out.push("RFC822", lit(msg!.bytes));
          break;
        case "RFC822.HEADER":
          out.push("RFC822.HEADER", lit(msg!.bytes.subarray(0, msg!.mime.bodyStart)));
          break;
        case "RFC822.TEXT":
          out.push("RFC822.TEXT", lit(msg!.bytes.subarray(msg!.mime.bodyStart)));
          break;
      }
    } else if (item.kind === "body") {
      const bytes = sectionBytes(msg!.bytes, msg!.mime, item) ?? Buffer.alloc(0);
      const name = `BODY[${item.label}]${item.partial ? `<${item.partial.start}>` : ""}`;
      out.push(name, lit(partial(bytes, item.partial)));
    } else {
      const bytes = binaryBytes(msg!.bytes, msg!.mime, item.path);
      if (bytes === "unknown") throw new ImapNo("UNKNOWN-CTE", "Unknown content transfer encoding");
      const b = bytes ?? Buffer.alloc(0);
      const section = item.path.join(".");
      if (item.size) out.push(`BINARY.SIZE[${section}]`, b.length);
      else {
        const part = partial(b, item.partial);
        out.push(
          `BINARY[${section}]${item.partial ? `<${item.partial.start}>` : ""}`,
          lit(
            part,
            part.some((c) => c === 0 || c >= 0x80),
          ),
        );
      }
    }
  }
  return out;
}
