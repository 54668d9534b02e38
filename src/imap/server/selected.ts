// What a session knows about its selected folder: the UIDs in sequence-number order with their flags
// and modseqs, as last told to the client. `Session.sync` brings it up to date from the store's change
// log and tells the client the differences (RFC 9051 §7.5.1 EXISTS/EXPUNGE, §7.5.2 FETCH FLAGS).
import type { Folder, MessageMeta } from "../../store/types.js";
import { resolveSet, type SeqRange } from "../proto/sequence-set.js";

export class SelectedFolder {
  /** Ascending; sequence number = index + 1. */
  uids: number[] = [];
  flags = new Map<number, string[]>();
  modseqs = new Map<number, number>();
  /** Expunged in the store but not yet reported (EXPUNGE is not allowed during FETCH/STORE/SEARCH). */
  pendingExpunge = new Set<number>();
  /** Messages that arrived while this session had the folder selected (RFC 3501 §2.3.2 \Recent). */
  recent = new Set<number>();
  /** Everything up to this modseq has been reported. */
  highestModseq: number;
  /** Keywords announced in the last FLAGS response. */
  keywords = new Set<string>();
  /** Result of the last SEARCH ... RETURN (SAVE) (RFC 5182), as UIDs. */
  saved: number[] = [];

  constructor(
    public folder: Folder,
    readonly readOnly: boolean,
    messages: MessageMeta[],
  ) {
    this.highestModseq = folder.highestModseq;
    for (const m of messages) this.add(m);
  }

  add(m: MessageMeta): void {
    this.uids.push(m.uid);
    this.flags.set(m.uid, m.flags);
    this.modseqs.set(m.uid, m.modseq);
  }

  get exists(): number {
    return this.uids.length;
  }

  get lastUid(): number {
    return this.uids.length ? this.uids[this.uids.length - 1]! : 0;
  }

  /** Sequence number of a UID, 0 when absent. */
  seqOf(uid: number): number {
    let lo = 0;
    let hi = this.uids.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const v = this.uids[mid]!;
      if (v === uid) return mid + 1;
      if (v < uid) lo = mid + 1;
      else hi = mid - 1;
    }
    return 0;
  }

  /** Removes a UID and returns the sequence number it had (0 if it was not there). */
  remove(uid: number): number {
    const seq = this.seqOf(uid);
    if (seq > 0) {
      this.uids.splice(seq - 1, 1);
      this.flags.delete(uid);
      this.modseqs.delete(uid);
      this.recent.delete(uid);
    }
    this.pendingExpunge.delete(uid);
    return seq;
  }

  /** UIDs named by a sequence set, ascending. */
  resolve(ranges: SeqRange[], byUid: boolean): number[] {
    if (byUid) return resolveSet(ranges, this.uids);
    const seqs = resolveSet(
      ranges,
      this.uids.map((_, i) => i + 1),
    );
    return seqs.map((s) => this.uids[s - 1]!);
  }

  /** Whether a sequence set names a number beyond the mailbox (RFC 9051 §6.4.5: that is an error). */
  outOfRange(ranges: SeqRange[]): boolean {
    return ranges.some((r) => r.from > this.exists || r.to > this.exists);
  }
}
