// fetch-att (RFC 9051 §6.4.5, RFC 3516 BINARY, RFC 7162 MODSEQ) and FETCH modifiers (CHANGEDSINCE,
// VANISHED), parsed into a list the FETCH command answers in order.
import { ParseError, type Reader } from "./reader.js";

export type SectionText = "" | "HEADER" | "HEADER.FIELDS" | "HEADER.FIELDS.NOT" | "TEXT" | "MIME";

export type FetchItem =
  | {
      kind: "simple";
      name:
        | "FLAGS"
        | "INTERNALDATE"
        | "RFC822.SIZE"
        | "ENVELOPE"
        | "BODY"
        | "BODYSTRUCTURE"
        | "UID"
        | "MODSEQ"
        | "RFC822"
        | "RFC822.HEADER"
        | "RFC822.TEXT";
    }
  | {
      kind: "body";
      peek: boolean;
      path: number[];
      text: SectionText;
      fields?: string[];
      partial?: { start: number; length: number };
      /** The section spec as the response must echo it, e.g. "1.HEADER.FIELDS (SUBJECT)". */
      label: string;
    }
  | {
      kind: "binary";
      peek: boolean;
      size: boolean;
      path: number[];
      partial?: { start: number; length: number };
    };

export interface FetchModifiers {
  changedSince?: number;
  vanished?: boolean;
}

const SIMPLE = new Set([
  "FLAGS",
  "INTERNALDATE",
  "RFC822.SIZE",
  "ENVELOPE",
  "BODY",
  "BODYSTRUCTURE",
  "UID",
  "MODSEQ",
  "RFC822",
  "RFC822.HEADER",
  "RFC822.TEXT",
]);

const MACROS: Record<string, string[]> = {
  ALL: ["FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE"],
  FAST: ["FLAGS", "INTERNALDATE", "RFC822.SIZE"],
  FULL: ["FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE", "BODY"],
};

export function readFetchItems(r: Reader): FetchItem[] {
  if (r.peekChar() === "(") {
    r.expect("(");
    const out: FetchItem[] = [];
    while (!r.take(")")) {
      if (out.length > 0) r.sp();
      out.push(readItem(r));
    }
    if (out.length === 0) r.fail("fetch attribute");
    return out;
  }
  const save = r.pos;
  const word = r.atom().toUpperCase();
  const macro = MACROS[word];
  if (macro) return macro.map((name) => ({ kind: "simple", name }) as FetchItem);
  r.pos = save;
  return [readItem(r)];
}

function readItem(r: Reader): FetchItem {
  const start = r.pos;
  // Read the attribute name up to "[" or a delimiter.
  while (!r.atEnd && !" ()[".includes(r.peekChar())) r.pos++;
  const name = r.buf.toString("latin1", start, r.pos).toUpperCase();
  if (name === "") r.fail("fetch attribute");
  if (r.peekChar() !== "[") {
    if (SIMPLE.has(name)) return { kind: "simple", name } as FetchItem;
    throw new ParseError(`unknown fetch attribute ${name}`);
  }
  if (name === "BODY" || name === "BODY.PEEK") {
    r.expect("[");
    const sec = readSection(r);
    r.expect("]");
    const partial = readPartial(r);
    return { kind: "body", peek: name === "BODY.PEEK", ...sec, ...(partial ? { partial } : {}) };
  }
  if (name === "BINARY" || name === "BINARY.PEEK" || name === "BINARY.SIZE") {
    r.expect("[");
    const path = readPath(r);
    r.expect("]");
    const partial = name === "BINARY.SIZE" ? undefined : readPartial(r);
    return {
      kind: "binary",
      peek: name !== "BINARY",
      size: name === "BINARY.SIZE",
      path,
      ...(partial ? { partial } : {}),
    };
  }
  throw new ParseError(`unknown fetch attribute ${name}`);
}

function readPath(r: Reader): number[] {
  const path: number[] = [];
  while (/[0-9]/.test(r.peekChar())) {
    path.push(r.nzNumber());
    if (!r.take(".")) break;
    if (!/[0-9]/.test(r.peekChar())) {
      r.pos--; // the "." belongs to the section-text that follows
      break;
    }
  }
  return path;
}

function readSection(r: Reader): { path: number[]; text: SectionText; fields?: string[]; label: string } {
  const path = readPath(r);
  if (path.length > 0 && r.peekChar() === ".") r.expect(".");
  else if (path.length > 0 && r.peekChar() !== "]") r.fail("]");
  let text: SectionText = "";
  let fields: string[] | undefined;
  if (r.peekChar() !== "]") {
    const start = r.pos;
    while (!r.atEnd && /[A-Za-z.]/.test(r.peekChar())) r.pos++;
    const word = r.buf.toString("latin1", start, r.pos).toUpperCase();
    if (word === "HEADER" || word === "TEXT") text = word;
    else if (word === "MIME" && path.length > 0) text = "MIME";
    else if (word === "HEADER.FIELDS" || word === "HEADER.FIELDS.NOT") {
      text = word;
      r.sp();
      fields = r.parenList(() => r.astring());
      if (fields.length === 0) r.fail("header field name");
    } else r.fail("section text");
  }
  let label = path.join(".");
  if (text) label += (label ? "." : "") + text;
  if (fields) label += ` (${fields.map((f) => f.toUpperCase()).join(" ")})`;
  return { path, text, ...(fields ? { fields } : {}), label };
}

function readPartial(r: Reader): { start: number; length: number } | undefined {
  if (!r.take("<")) return undefined;
  const start = r.number32();
  r.expect(".");
  const length = r.nzNumber();
  r.expect(">");
  return { start, length };
}

/** `(CHANGEDSINCE 12 VANISHED)` after the fetch attributes (RFC 7162 §3.1.4, §3.2.6). */
export function readFetchModifiers(r: Reader): FetchModifiers {
  const out: FetchModifiers = {};
  if (r.atEnd) return out;
  r.sp();
  r.parenList(() => {
    const name = r.atom().toUpperCase();
    if (name === "CHANGEDSINCE") {
      r.sp();
      out.changedSince = r.number();
    } else if (name === "VANISHED") out.vanished = true;
    else r.fail("known fetch modifier");
  });
  return out;
}
