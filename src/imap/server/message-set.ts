// Resolving a command's sequence set against the selected folder, with "$" (RFC 5182 SEARCHRES).
import type { SequenceSet } from "../proto/sequence-set.js";
import { ImapBad } from "./errors.js";
import type { SelectedFolder } from "./selected.js";

export function uidsOf(sel: SelectedFolder, set: SequenceSet, byUid: boolean): number[] {
  if ("saved" in set) return sel.saved.filter((u) => sel.seqOf(u) > 0);
  // RFC 9051 §9: a message sequence number beyond the mailbox is a client error.
  if (!byUid && sel.exists === 0) throw new ImapBad("No messages in this mailbox");
  if (!byUid && sel.outOfRange(set.ranges)) throw new ImapBad("Invalid message sequence number");
  return sel.resolve(set.ranges, byUid);
}
