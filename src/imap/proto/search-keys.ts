// search-key (RFC 9051 §6.4.4, RFC 7162 §3.1.5 MODSEQ) parsed into a tree, plus ESEARCH RETURN options
// (RFC 4731). Evaluation lives in the server (it needs flags, dates and message bytes).
import type { Reader } from "./reader.js";
import { readSequenceSet, type SequenceSet } from "./sequence-set.js";

export type SearchKey =
  | { k: "all" }
  | { k: "flag"; flag: string; set: boolean }
  | { k: "new" }
  | { k: "old" }
  | { k: "recent" }
  | { k: "header"; field: string; value: string }
  | { k: "body"; value: string }
  | { k: "text"; value: string }
  | { k: "date"; which: "internal" | "sent"; op: "before" | "on" | "since"; date: Date }
  | { k: "size"; op: "larger" | "smaller"; n: number }
  | { k: "seq"; set: SequenceSet }
  | { k: "uid"; set: SequenceSet }
  | { k: "modseq"; n: number }
  | { k: "not"; key: SearchKey }
  | { k: "or"; a: SearchKey; b: SearchKey }
  | { k: "and"; keys: SearchKey[] };

export interface SearchCommand {
  charset: string | null;
  /** null: plain SEARCH answer; otherwise ESEARCH with these options (empty means ALL). */
  ret: string[] | null;
  key: SearchKey;
}

const FLAG_KEYS: Record<string, [string, boolean]> = {
  ANSWERED: ["\\Answered", true],
  DELETED: ["\\Deleted", true],
  DRAFT: ["\\Draft", true],
  FLAGGED: ["\\Flagged", true],
  SEEN: ["\\Seen", true],
  UNANSWERED: ["\\Answered", false],
  UNDELETED: ["\\Deleted", false],
  UNDRAFT: ["\\Draft", false],
  UNFLAGGED: ["\\Flagged", false],
  UNSEEN: ["\\Seen", false],
};

const HEADER_KEYS = new Set(["BCC", "CC", "FROM", "SUBJECT", "TO"]);
const DATE_KEYS: Record<string, ["internal" | "sent", "before" | "on" | "since"]> = {
  BEFORE: ["internal", "before"],
  ON: ["internal", "on"],
  SINCE: ["internal", "since"],
  SENTBEFORE: ["sent", "before"],
  SENTON: ["sent", "on"],
  SENTSINCE: ["sent", "since"],
};

/** `[RETURN (opts)] [CHARSET x] key *(SP key)` after "SEARCH ". */
export function readSearch(r: Reader): SearchCommand {
  let ret: string[] | null = null;
  let charset: string | null = null;
  if (r.take("RETURN ")) {
    ret = r.parenList(() => r.atom().toUpperCase());
    r.sp();
  }
  if (r.take("CHARSET ")) {
    charset = r.astring();
    r.sp();
  }
  const keys: SearchKey[] = [readKey(r, 0)];
  while (!r.atEnd) {
    r.sp();
    keys.push(readKey(r, 0));
  }
  return { charset, ret, key: keys.length === 1 ? keys[0]! : { k: "and", keys } };
}

const MAX_DEPTH = 100;

function readKey(r: Reader, depth: number): SearchKey {
  if (depth > MAX_DEPTH) r.fail("shallower search");
  const c = r.peekChar();
  if (c === "(") {
    r.expect("(");
    const keys: SearchKey[] = [readKey(r, depth + 1)];
    while (!r.take(")")) {
      r.sp();
      keys.push(readKey(r, depth + 1));
    }
    return keys.length === 1 ? keys[0]! : { k: "and", keys };
  }
  if (/[0-9*$]/.test(c)) return { k: "seq", set: readSequenceSet(r) };
  const word = r.atom().toUpperCase();
  const flag = FLAG_KEYS[word];
  if (flag) return { k: "flag", flag: flag[0], set: flag[1] };
  if (HEADER_KEYS.has(word)) {
    r.sp();
    return { k: "header", field: word.toLowerCase(), value: r.astring() };
  }
  const date = DATE_KEYS[word];
  if (date) {
    r.sp();
    return { k: "date", which: date[0], op: date[1], date: r.date() };
  }
  switch (word) {
    case "ALL":
      return { k: "all" };
    case "NEW":
      return { k: "new" };
    case "OLD":
      return { k: "old" };
    case "RECENT":
      return { k: "recent" };
    case "KEYWORD":
    case "UNKEYWORD":
      r.sp();
      return { k: "flag", flag: r.flag(), set: word === "KEYWORD" };
    case "HEADER": {
      r.sp();
      const field = r.astring().toLowerCase();
      r.sp();
      return { k: "header", field, value: r.astring() };
    }
    case "BODY":
      r.sp();
      return { k: "body", value: r.astring() };
    case "TEXT":
      r.sp();
      return { k: "text", value: r.astring() };
    case "LARGER":
    case "SMALLER":
      r.sp();
      return { k: "size", op: word === "LARGER" ? "larger" : "smaller", n: r.number() };
    case "UID":
      r.sp();
      return { k: "uid", set: readSequenceSet(r) };
    case "NOT":
      r.sp();
      return { k: "not", key: readKey(r, depth + 1) };
    case "OR": {
      r.sp();
      const a = readKey(r, depth + 1);
      r.sp();
      return { k: "or", a, b: readKey(r, depth + 1) };
    }
    case "MODSEQ": {
      r.sp();
      // Optional entry name and type (RFC 7162 §3.1.5): MODSEQ "/flags/\\draft" all 620162338
      if (r.peekChar() === '"') {
        r.string();
        r.sp();
        r.atom();
        r.sp();
      }
      return { k: "modseq", n: r.number() };
    }
    default:
      return r.fail("search key");
  }
}
