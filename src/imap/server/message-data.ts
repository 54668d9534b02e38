// A message's bytes and MIME tree, loaded once per message while a command answers.
import type { Sexp } from "../../mime/envelope.js";
import { type MimePart, parseMime } from "../../mime/mime-tree.js";
import type { MailStore } from "../../store/mail-store.js";
import type { MessageMeta } from "../../store/types.js";
import { joined, lit, nstr, str, type Value } from "../proto/serializer.js";

export class LoadedMessage {
  private tree: MimePart | null = null;
  constructor(
    readonly meta: MessageMeta,
    readonly bytes: Buffer,
  ) {}
  get mime(): MimePart {
    this.tree ??= parseMime(this.bytes);
    return this.tree;
  }
}

export async function loadMessage(store: MailStore, meta: MessageMeta): Promise<LoadedMessage> {
  return new LoadedMessage(meta, await store.readBlob(meta.blobId));
}

export function sexpToValue(s: Sexp): Value {
  if (s === null) return null;
  if (typeof s === "number") return s;
  if (typeof s === "string" || Buffer.isBuffer(s)) return str(s);
  if (Array.isArray(s)) return s.map(sexpToValue);
  if ("joined" in s) return joined(s.joined.map(sexpToValue));
  return lit(s.lit);
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** date-time as in INTERNALDATE (RFC 9051 §9), in UTC. */
export function formatInternalDate(d: Date): string {
  const p = (n: number) => String(n).padStart(2, "0");
  return `${p(d.getUTCDate())}-${MONTHS[d.getUTCMonth()]}-${d.getUTCFullYear()} ${p(d.getUTCHours())}:${p(
    d.getUTCMinutes(),
  )}:${p(d.getUTCSeconds())} +0000`;
}

export { nstr };
