// Byte tables for the command grammar (fetch attributes, search keys, sequence sets, strings, dates),
// modified UTF-7 and the serializer. Each command goes through the framer cut at every byte boundary
// first, so the parse never depends on how the bytes arrived.
import assert from "node:assert/strict";
import { test } from "node:test";
import { readFetchItems, readFetchModifiers } from "../../src/imap/proto/fetch-items.js";
import { CommandFramer } from "../../src/imap/proto/framer.js";
import { ParseError, Reader } from "../../src/imap/proto/reader.js";
import { readSearch } from "../../src/imap/proto/search-keys.js";
import { formatSet, readSequenceSet, resolveSet } from "../../src/imap/proto/sequence-set.js";
import { encodeLine, lit, str } from "../../src/imap/proto/serializer.js";
import { decodeMutf7, encodeMutf7 } from "../../src/mime/mutf7.js";

const limits = { maxLineBytes: 10_000, maxCommandBytes: 100_000, maxLiteralBytes: () => 10_000 };

/** Frames `input` at every split point; all must give the same single command, which is returned. */
function framed(input: string | Buffer): Buffer {
  const buf = typeof input === "string" ? Buffer.from(input, "utf8") : input;
  const results: string[] = [];
  for (let i = 0; i <= buf.length; i++) {
    const f = new CommandFramer(limits);
    const ev = [...f.push(buf.subarray(0, i)), ...f.push(buf.subarray(i))].filter(
      (e) => e.kind === "command",
    );
    assert.equal(ev.length, 1, `one command at split ${i}`);
    results.push((ev[0] as { bytes: Buffer }).bytes.toString("latin1"));
  }
  assert.ok(results.every((r) => r === results[0]));
  return Buffer.from(results[0]!, "latin1");
}

/** Reader positioned after "tag COMMAND ". */
function args(input: string): Reader {
  const r = new Reader(framed(input));
  r.tag();
  r.sp();
  r.astringAtom();
  if (r.take(" ")) return r;
  return r;
}

test("reader: astring, quoted and literal arguments give the same bytes", () => {
  for (const input of [
    "a LOGIN mario pa\\ss\r\n".replace("\\", ""),
    'a LOGIN "mario" "pass"\r\n',
    "a LOGIN {5}\r\nmario {4+}\r\npass\r\n",
    'a LOGIN mario "pa\\ss"\r\n'.replace("\\s", "s"),
  ]) {
    const r = args(input);
    const user = r.astring();
    r.sp();
    const pass = r.astring();
    r.end();
    assert.equal(user, "mario");
    assert.equal(pass, "pass");
  }
});

test("reader: quoted strings unescape backslash and quote and reject CR, LF and bare 8-bit", () => {
  const r = args('a X "a\\"b\\\\c"\r\n');
  assert.equal(r.string(), 'a"b\\c');
  assert.throws(() => args('a X "a\\xb"\r\n').string(), ParseError);
  assert.throws(() => new Reader(Buffer.from('"caff\xe8"', "latin1")).string(), ParseError);
  const utf = new Reader(Buffer.from('"caffè"'));
  utf.utf8 = true;
  assert.equal(utf.string(), "caffè");
});

test("reader: date-time in APPEND is read with its zone", () => {
  const r = new Reader(Buffer.from('"17-Jul-1996 02:44:25 -0700"'));
  assert.equal(r.dateTime().toISOString(), "1996-07-17T09:44:25.000Z");
  const r2 = new Reader(Buffer.from('" 1-Feb-2024 23:59:59 +0100"'));
  assert.equal(r2.dateTime().toISOString(), "2024-02-01T22:59:59.000Z");
  assert.throws(() => new Reader(Buffer.from('"32-Jan-2024 00:00:00 +0000"')).dateTime(), ParseError);
  assert.throws(() => new Reader(Buffer.from('"1-Foo-2024 00:00:00 +0000"')).dateTime(), ParseError);
});

test("reader: flag lists keep system flags and keywords", () => {
  const r = new Reader(Buffer.from("(\\Seen \\Answered $Forwarded Junk)"));
  assert.deepEqual(r.flagList(), ["\\Seen", "\\Answered", "$Forwarded", "Junk"]);
  assert.throws(() => new Reader(Buffer.from("(\\Seen")).flagList(), ParseError);
});

test("sequence sets: ranges, stars, either order, and compact formatting", () => {
  const cases: [string, number[], number[]][] = [
    ["1:3,7", [1, 2, 3, 4, 5, 6, 7, 8], [1, 2, 3, 7]],
    ["*", [4, 9, 12], [12]],
    ["5:*", [4, 9, 12], [9, 12]],
    ["20:*", [4, 9, 12], [12]],
    ["3:1", [1, 2, 3, 4], [1, 2, 3]],
    ["1:*", [], []],
  ];
  for (const [text, inUse, want] of cases) {
    const s = readSequenceSet(new Reader(Buffer.from(text)));
    assert.ok("ranges" in s);
    assert.deepEqual(resolveSet(s.ranges, inUse), want, text);
  }
  assert.throws(() => readSequenceSet(new Reader(Buffer.from("0:3"))), ParseError);
  assert.equal(formatSet([1, 2, 3, 5, 7, 8]), "1:3,5,7:8");
  assert.equal(formatSet([9, 3, 4], false), "9,3:4");
});

test("fetch attributes: macros, sections with part paths, partials and BINARY", () => {
  assert.deepEqual(
    readFetchItems(args("a FETCH FAST\r\n")).map((i) => (i.kind === "simple" ? i.name : i.kind)),
    ["FLAGS", "INTERNALDATE", "RFC822.SIZE"],
  );
  const items = readFetchItems(
    args(
      "a FETCH (UID BODY.PEEK[1.2.HEADER.FIELDS (Subject From)]<0.100> BODY[] BODY[2.MIME] BINARY.PEEK[1]<5.10> BINARY.SIZE[3] MODSEQ)\r\n",
    ),
  );
  assert.deepEqual(items, [
    { kind: "simple", name: "UID" },
    {
      kind: "body",
      peek: true,
      path: [1, 2],
      text: "HEADER.FIELDS",
      fields: ["Subject", "From"],
      label: "1.2.HEADER.FIELDS (SUBJECT FROM)",
      partial: { start: 0, length: 100 },
    },
    { kind: "body", peek: false, path: [], text: "", label: "" },
    { kind: "body", peek: false, path: [2], text: "MIME", label: "2.MIME" },
    { kind: "binary", peek: true, size: false, path: [1], partial: { start: 5, length: 10 } },
    { kind: "binary", peek: true, size: true, path: [3] },
    { kind: "simple", name: "MODSEQ" },
  ]);
  assert.throws(() => readFetchItems(args("a FETCH (BODY[MIME])\r\n")), ParseError);
  assert.throws(() => readFetchItems(args("a FETCH (FOO)\r\n")), ParseError);
  assert.throws(() => readFetchItems(args("a FETCH ()\r\n")), ParseError);
  const r = args("a FETCH FLAGS (CHANGEDSINCE 12345 VANISHED)\r\n");
  readFetchItems(r);
  assert.deepEqual(readFetchModifiers(r), { changedSince: 12345, vanished: true });
});

test("search keys: nesting, OR/NOT, header with literal, dates, sizes, UID sets", () => {
  const cmd = readSearch(
    args(
      'a SEARCH RETURN (MIN COUNT) CHARSET UTF-8 OR FROM "rossi" NOT (SEEN LARGER 100) HEADER X-Ricevuta {8}\r\nconsegna SINCE 1-Feb-2024 UID 1:*\r\n',
    ),
  );
  assert.equal(cmd.charset, "UTF-8");
  assert.deepEqual(cmd.ret, ["MIN", "COUNT"]);
  assert.deepEqual(cmd.key, {
    k: "and",
    keys: [
      {
        k: "or",
        a: { k: "header", field: "from", value: "rossi" },
        b: {
          k: "not",
          key: {
            k: "and",
            keys: [
              { k: "flag", flag: "\\Seen", set: true },
              { k: "size", op: "larger", n: 100 },
            ],
          },
        },
      },
      { k: "header", field: "x-ricevuta", value: "consegna" },
      { k: "date", which: "internal", op: "since", date: new Date(Date.UTC(2024, 1, 1)) },
      { k: "uid", set: { ranges: [{ from: 1, to: 0 }] } },
    ],
  });
  assert.deepEqual(readSearch(args("a SEARCH 2:4 UNKEYWORD $Junk\r\n")).key, {
    k: "and",
    keys: [
      { k: "seq", set: { ranges: [{ from: 2, to: 4 }] } },
      { k: "flag", flag: "$Junk", set: false },
    ],
  });
  assert.throws(() => readSearch(args("a SEARCH FOO\r\n")), ParseError);
  assert.throws(() => readSearch(args("a SEARCH OR SEEN\r\n")), ParseError);
  assert.throws(() => readSearch(args(`a SEARCH ${"NOT ".repeat(200)}SEEN\r\n`)), ParseError);
});

test("modified UTF-7: RFC 3501 examples, round trips and rejected forms", () => {
  const table: [string, string][] = [
    ["~peter/mail/台北/日本語", "~peter/mail/&U,BTFw-/&ZeVnLIqe-"],
    ["Posta inviata", "Posta inviata"],
    ["A&B", "A&-B"],
    ["Caffè/Più", "Caff&AOg-/Pi&APk-"],
    ["😀", "&2D3eAA-"],
  ];
  for (const [plain, wire] of table) {
    assert.equal(encodeMutf7(plain), wire);
    assert.equal(decodeMutf7(wire), plain);
  }
  for (const bad of ["&Jjo!", "&U,BTFw", "caffè", "&AGE-"]) assert.throws(() => decodeMutf7(bad), bad);
});

test("serializer: quoted when safe, literal otherwise, NIL and nested lists", () => {
  assert.equal(encodeLine(["*", "OK", str('a "b" \\c')]).toString(), '* OK "a \\"b\\" \\\\c"\r\n');
  assert.equal(encodeLine([str("line\r\nbreak")]).toString(), "{11}\r\nline\r\nbreak\r\n");
  assert.equal(encodeLine([str("caffè")]).toString(), "{6}\r\ncaffè\r\n");
  assert.equal(encodeLine([str("caffè")], { utf8: true }).toString(), '"caffè"\r\n');
  assert.equal(
    encodeLine([[null, 1, [str("")], lit(Buffer.from([0]), true)]]).toString("latin1"),
    '(NIL 1 ("") ~{1}\r\n\x00)\r\n',
  );
});
