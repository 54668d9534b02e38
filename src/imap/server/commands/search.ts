// SEARCH and UID SEARCH (RFC 9051 §6.4.4) with ESEARCH (RFC 4731), SEARCHRES (RFC 5182) and the MODSEQ
// key (RFC 7162 §3.1.5).
import { bodyText, decodeHeaderText, headerMatches, textMatches } from "../../../mime/search-text.js";
import type { MessageMeta } from "../../../store/types.js";
import { readSearch, type SearchKey } from "../../proto/search-keys.js";
import { formatSet } from "../../proto/sequence-set.js";
import { str, type Value } from "../../proto/serializer.js";
import { ImapBad, ImapNo } from "../errors.js";
import { type LoadedMessage, loadMessage } from "../message-data.js";
import { type CommandSpec, SELECTED } from "../registry.js";
import type { SelectedFolder } from "../selected.js";
import type { Session } from "../session.js";

const CHARSETS = new Set(["UTF-8", "US-ASCII"]);

function needsBytes(k: SearchKey): boolean {
  switch (k.k) {
    case "header":
    case "body":
    case "text":
      return true;
    case "date":
      return k.which === "sent";
    case "not":
      return needsBytes(k.key);
    case "or":
      return needsBytes(k.a) || needsBytes(k.b);
    case "and":
      return k.keys.some(needsBytes);
    default:
      return false;
  }
}

function usesModseq(k: SearchKey): boolean {
  if (k.k === "modseq") return true;
  if (k.k === "not") return usesModseq(k.key);
  if (k.k === "or") return usesModseq(k.a) || usesModseq(k.b);
  if (k.k === "and") return k.keys.some(usesModseq);
  return false;
}

/** Day number (UTC) for date comparisons, which ignore time and zone (RFC 9051 §6.4.4). */
const day = (d: Date) => Math.floor(d.getTime() / 86_400_000);

function sentDate(msg: LoadedMessage | null): Date {
  const h = msg?.mime.headers.find((x) => x.key === "date");
  if (h) {
    const t = Date.parse(h.value.toString("latin1").replace(/\([^)]*\)/g, ""));
    if (!Number.isNaN(t)) {
      // Compare on the date as written in the header (its own zone).
      const m = /([+-])(\d\d)(\d\d)\s*$/.exec(
        h.value
          .toString("latin1")
          .replace(/\([^)]*\)/g, "")
          .trim(),
      );
      const off = m ? (m[1] === "-" ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3])) : 0;
      return new Date(t + off * 60_000);
    }
  }
  // No usable Date header: Dovecot counts it as the epoch (before any date, on none).
  return new Date(0);
}

interface Ctx {
  sel: SelectedFolder;
  seq: number;
  meta: MessageMeta;
  msg: LoadedMessage | null;
  text: { body?: string };
}

function matches(k: SearchKey, c: Ctx): boolean {
  const flags = c.meta.flags;
  switch (k.k) {
    case "all":
      return true;
    case "flag": {
      const has = flags.some((f) => f.toLowerCase() === k.flag.toLowerCase());
      return has === k.set;
    }
    case "new":
      return c.sel.recent.has(c.meta.uid) && !flags.includes("\\Seen");
    case "old":
      return !c.sel.recent.has(c.meta.uid);
    case "recent":
      return c.sel.recent.has(c.meta.uid);
    case "header":
      return headerMatches(c.msg!.mime, k.field, k.value);
    case "body":
      c.text.body ??= bodyText(c.msg!.bytes, c.msg!.mime);
      return textMatches(c.text.body, k.value);
    case "text": {
      c.text.body ??= bodyText(c.msg!.bytes, c.msg!.mime);
      const headers = c.msg!.mime.headers.map((h) => `${h.name}: ${decodeHeaderText(h.value)}`).join("\n");
      return textMatches(headers, k.value) || textMatches(c.text.body, k.value);
    }
    case "date": {
      const d = k.which === "internal" ? c.meta.internalDate : sentDate(c.msg);
      if (!d) return false;
      const a = day(d);
      const b = day(k.date);
      return k.op === "before" ? a < b : k.op === "on" ? a === b : a >= b;
    }
    case "size":
      return k.op === "larger" ? c.meta.size > k.n : c.meta.size < k.n;
    case "seq":
      if ("saved" in k.set) return c.sel.saved.includes(c.meta.uid);
      return inRangesStar(k.set.ranges, c.seq, c.sel.exists);
    case "uid":
      if ("saved" in k.set) return c.sel.saved.includes(c.meta.uid);
      return inRangesStar(k.set.ranges, c.meta.uid, c.sel.lastUid);
    case "modseq":
      return c.meta.modseq >= k.n;
    case "not":
      return !matches(k.key, c);
    case "or":
      return matches(k.a, c) || matches(k.b, c);
    case "and":
      return k.keys.every((x) => matches(x, c));
  }
}

function inRangesStar(ranges: { from: number; to: number }[], n: number, max: number): boolean {
  return ranges.some((r) => {
    const a = r.from === 0 ? max : r.from;
    const b = r.to === 0 ? max : r.to;
    return n >= Math.min(a, b) && n <= Math.max(a, b);
  });
}

export async function runSearch(session: Session, key: SearchKey): Promise<MessageMeta[]> {
  const sel = session.selected!;
  const metas = await session.store.listMessages(sel.folder.id);
  const bytes = needsBytes(key);
  const out: MessageMeta[] = [];
  for (const meta of metas) {
    const seq = sel.seqOf(meta.uid);
    if (seq === 0 || sel.pendingExpunge.has(meta.uid)) continue;
    const msg = bytes ? await loadMessage(session.store, meta) : null;
    if (matches(key, { sel, seq, meta, msg, text: {} })) out.push(meta);
  }
  return out;
}

export const search: CommandSpec = {
  name: "SEARCH",
  states: SELECTED,
  uid: true,
  capabilities: ["ESEARCH", "SEARCHRES"],
  async run(session, r, { tag, uid }) {
    r.sp();
    const cmd = readSearch(r);
    if (cmd.charset && !CHARSETS.has(cmd.charset.toUpperCase()))
      throw new ImapNo("BADCHARSET (UTF-8 US-ASCII)", "Unsupported charset");
    if (cmd.ret)
      for (const o of cmd.ret)
        if (!["MIN", "MAX", "ALL", "COUNT", "SAVE"].includes(o))
          throw new ImapBad(`Unknown RETURN option ${o}`);
    const sel = session.selected!;
    const found = await runSearch(session, cmd.key);
    const nums = found.map((m) => (uid ? m.uid : sel.seqOf(m.uid)));
    const modseq = usesModseq(cmd.key) ? Math.max(0, ...found.map((m) => m.modseq)) : 0;
    if (usesModseq(cmd.key)) session.enabled.add("CONDSTORE");
    if (cmd.ret === null) {
      const values: Value[] = ["SEARCH", ...nums];
      if (modseq && nums.length) values.push(["MODSEQ", modseq]);
      session.untagged(...values);
    } else {
      const opts = cmd.ret.length === 0 ? ["ALL"] : cmd.ret;
      if (opts.includes("SAVE")) sel.saved = found.map((m) => m.uid);
      const values: Value[] = ["ESEARCH", ["TAG", str(tag)]];
      if (uid) values.push("UID");
      const sorted = [...nums].sort((a, b) => a - b);
      if (opts.includes("MIN") && sorted.length) values.push("MIN", sorted[0]!);
      if (opts.includes("MAX") && sorted.length) values.push("MAX", sorted[sorted.length - 1]!);
      if (opts.includes("ALL") && sorted.length) values.push("ALL", formatSet(sorted));
      if (opts.includes("COUNT")) values.push("COUNT", sorted.length);
      if (modseq && sorted.length) values.push("MODSEQ", modseq);
      // RFC 5182 §2.4: SAVE alone returns no ESEARCH response.
      if (!(opts.length === 1 && opts[0] === "SAVE")) session.untagged(...values);
    }
    await session.finish(tag, "SEARCH completed", { expunge: uid });
  },
};
