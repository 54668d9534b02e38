// sequence-set (RFC 9051 §9): "1:4,7,9:*". `*` is the largest number in use; "$" is the saved search
// result (RFC 5182), resolved by the session.
import { ParseError, type Reader } from "./reader.js";

/** 0 stands for "*". */
export interface SeqRange {
  from: number;
  to: number;
}
export type SequenceSet = { ranges: SeqRange[] } | { saved: true };

export function readSequenceSet(r: Reader): SequenceSet {
  if (r.take("$")) return { saved: true };
  const ranges: SeqRange[] = [];
  do {
    const from = seqNumber(r);
    let to = from;
    if (r.take(":")) to = seqNumber(r);
    ranges.push({ from, to });
  } while (r.take(","));
  return { ranges };
}

function seqNumber(r: Reader): number {
  if (r.take("*")) return 0;
  const n = r.number32();
  if (n === 0) throw new ParseError("sequence numbers start at 1");
  return n;
}

/**
 * Resolves ranges against the numbers in use (sorted ascending). `*` is the largest of them; a range
 * is matched in either order (RFC 9051 §9: "2:4" and "4:2" are the same). Returns members of `inUse`.
 */
export function resolveSet(ranges: SeqRange[], inUse: readonly number[]): number[] {
  if (inUse.length === 0) return [];
  const max = inUse[inUse.length - 1]!;
  const bounds = ranges.map((rg) => {
    const a = rg.from === 0 ? max : rg.from;
    const b = rg.to === 0 ? max : rg.to;
    return a <= b ? [a, b] : [b, a];
  }) as [number, number][];
  const out: number[] = [];
  for (const n of inUse) {
    for (const [a, b] of bounds) {
      if (n >= a && n <= b) {
        out.push(n);
        break;
      }
    }
  }
  return out;
}

/** Compact form of a sorted or unsorted list of numbers: "1:3,7,9:10" (for COPYUID, ESEARCH, VANISHED). */
export function formatSet(nums: readonly number[], sort = true): string {
  if (nums.length === 0) return "";
  const list = sort ? [...nums].sort((a, b) => a - b) : nums;
  const parts: string[] = [];
  let start = list[0]!;
  let prev = start;
  for (let i = 1; i <= list.length; i++) {
    const n = list[i];
    if (n !== undefined && n === prev + 1) {
      prev = n;
      continue;
    }
    parts.push(start === prev ? String(start) : `${start}:${prev}`);
    if (n !== undefined) {
      start = n;
      prev = n;
    }
  }
  return parts.join(",");
}

export function formatRanges(s: SequenceSet): string {
  if ("saved" in s) return "$";
  const f = (n: number) => (n === 0 ? "*" : String(n));
  return s.ranges.map((r) => (r.from === r.to ? f(r.from) : `${f(r.from)}:${f(r.to)}`)).join(",");
}
