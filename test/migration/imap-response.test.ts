// The copy reads the old server's answers itself (imap-response.ts); the whole-box tests check it against
// a real Dovecot, these pin the framing and the reading at every place a socket may cut the bytes.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  ImapProtocolError,
  ResponseReader,
  readFetch,
  readFetchBody,
  readListed,
  readNamespaces,
  readScan,
  readTagged,
  type ServerResponse,
  untaggedCode,
} from "../../src/migration/imap-response.js";

const LIMITS = { maxLineBytes: 4096, maxLiteralBytes: 1 << 20 };

/** Frames `wire` fed in chunks cut at `cuts`. */
function frame(wire: Buffer, cuts: number[] = []): ServerResponse[] {
  const reader = new ResponseReader(LIMITS);
  const out: ServerResponse[] = [];
  let from = 0;
  for (const cut of [...cuts, wire.length]) {
    out.push(...reader.push(wire.subarray(from, cut)));
    from = cut;
  }
  return out;
}

const join = (chunks: Buffer[]) => Buffer.concat(chunks);

const message = Buffer.from('From: a@b.it\r\nSubject: {3}\r\n\r\nbody with ) ( " and {5}\r\nend\r\n');
const WIRE = Buffer.concat([
  Buffer.from('* 1 FETCH (UID 17 FLAGS (\\Seen $label1) INTERNALDATE "17-Jul-1996 02:44:25 -0700" BODY[] '),
  Buffer.from(`{${message.length}}\r\n`),
  message,
  Buffer.from(")\r\n* 2 EXISTS\r\n* 2 FETCH (FLAGS (\\Deleted) UID 18)\r\n"),
  Buffer.from("* 3 FETCH (BODY[] {0}\r\n UID 19)\r\nD1 OK Fetch completed.\r\n"),
]);

test("responses are framed alike wherever the bytes are cut, literals kept as the chunks that came", () => {
  const whole = frame(WIRE);
  assert.equal(whole.length, 5);
  assert.deepEqual(join(whole[0]!.literals[0]!), message);
  for (let cut = 1; cut < WIRE.length; cut++) {
    const got = frame(WIRE, [cut]);
    assert.deepEqual(
      got.map((r) => ({ text: r.text, literals: r.literals.map(join) })),
      whole.map((r) => ({ text: r.text, literals: r.literals.map(join) })),
      `cut at ${cut}`,
    );
  }
  // Every byte its own chunk: still the same, and the literal is made of views, not copies.
  const bytewise = frame(
    WIRE,
    Array.from({ length: WIRE.length - 1 }, (_, i) => i + 1),
  );
  assert.deepEqual(join(bytewise[0]!.literals[0]!), message);
  assert.equal(bytewise[0]!.literals[0]!.length, message.length);
});

test("a literal in one chunk is a view of that chunk, not a copy", () => {
  const r = frame(WIRE)[0]!;
  assert.equal(r.literals[0]!.length, 1);
  assert.equal(r.literals[0]![0]!.buffer, WIRE.buffer);
});

test("UID, flags, INTERNALDATE and the body are read from a FETCH answer, in any order", () => {
  const [first, exists, flagChange, empty, tagged] = frame(WIRE);
  const m = readFetchBody(first!)!;
  assert.equal(m.uid, 17);
  assert.deepEqual(m.flags, ["\\Seen", "$label1"]);
  assert.equal(m.internalDate, "17-Jul-1996 02:44:25 -0700");
  assert.deepEqual(join(m.body), message);
  // Not answers: EXISTS, a flag change the server announces, a tagged status.
  assert.equal(readFetchBody(exists!), null);
  assert.equal(readFetch(exists!), null);
  assert.equal(readFetchBody(flagChange!), null);
  assert.deepEqual(readFetch(flagChange!), { flags: ["\\Deleted"], uid: 18 });
  assert.equal(readFetchBody(tagged!), null);
  // An empty literal is an empty message, and UID may follow the body.
  const e = readFetchBody(empty!)!;
  assert.equal(e.uid, 19);
  assert.equal(join(e.body).length, 0);
});

test("the scan's answers: UID, flags with keywords and RFC822.SIZE; without UID or size, not an answer", () => {
  const [a, b, c, d] = frame(
    Buffer.from(
      "* 1 FETCH (RFC822.SIZE 94028 FLAGS (\\Seen $label1 NonJunk) UID 17 MODSEQ (7))\r\n" +
        "* 2 fetch (uid 3 FLAGS () rfc822.size 0)\r\n" +
        "* 3 FETCH (FLAGS (\\Seen))\r\n" +
        "* 4 FETCH (UID x RFC822.SIZE 10)\r\n",
    ),
  );
  assert.deepEqual(readScan(a!), { uid: 17, flags: ["\\Seen", "$label1", "NonJunk"], size: 94028 });
  assert.deepEqual(readScan(b!), { uid: 3, flags: [], size: 0 });
  assert.equal(readScan(c!), null);
  assert.equal(readScan(d!), null);
});

test("a body sent as a quoted string is the same bytes; NIL, a section or a partial is not the body", () => {
  const [quotedBody, nilBody, sectionBody, partialBody] = frame(
    Buffer.concat([
      Buffer.from('* 1 FETCH (UID 5 BODY[] "Subject: \\"x\\" \\\\ \xe8")\r\n', "latin1"),
      Buffer.from("* 2 FETCH (UID 6 BODY[] NIL)\r\n"),
      Buffer.from("* 3 FETCH (UID 7 BODY[HEADER.FIELDS (FROM TO)] {2}\r\nab)\r\n"),
      Buffer.from("* 4 FETCH (UID 8 BODY[]<0> {2}\r\nab)\r\n"),
    ]),
  );
  const quoted = readFetchBody(quotedBody!)!.body;
  assert.deepEqual(join(quoted), Buffer.from('Subject: "x" \\ \xe8', "latin1"));
  // Its own memory, not a slice of Node's shared pool (the source thread hands buffers over).
  assert.equal(quoted[0]!.buffer.byteLength, quoted[0]!.length);
  assert.equal(readFetchBody(nilBody!), null);
  assert.equal(readFetchBody(sectionBody!), null);
  assert.equal(readFetchBody(partialBody!), null);
});

test("tagged statuses, response codes and limits", () => {
  assert.deepEqual(readTagged("D3 NO [AUTHENTICATIONFAILED] Authentication failed."), {
    tag: "D3",
    status: "NO",
    code: "AUTHENTICATIONFAILED",
    text: "[AUTHENTICATIONFAILED] Authentication failed.",
  });
  assert.equal(readTagged("* OK [UIDVALIDITY 3857529045] UIDs valid"), null);
  assert.equal(untaggedCode("* OK [UIDVALIDITY 3857529045] UIDs valid", "UIDVALIDITY"), "3857529045");
  assert.equal(untaggedCode("* OK [UIDNEXT 4392] Predicted next UID", "UIDVALIDITY"), null);
  // A line or a literal beyond the limits is refused, not buffered.
  assert.throws(() => frame(Buffer.from(`* OK ${"x".repeat(5000)}\r\n`)), ImapProtocolError);
  assert.throws(() => frame(Buffer.from(`* 1 FETCH (BODY[] {${(1 << 20) + 1}}\r\n`)), ImapProtocolError);
  // A list that never closes is the server's error, said as such.
  assert.throws(
    () => readFetch(frame(Buffer.from("* 1 FETCH (UID 3 FLAGS (\\Seen)\r\n"))[0]!),
    ImapProtocolError,
  );
});

test("LIST and LSUB answers: attributes, the separator or NIL, names as atom, quoted string or literal", () => {
  const r = frame(
    Buffer.from(
      '* LIST (\\HasNoChildren \\Sent) "/" "Posta inviata"\r\n' +
        "* LIST (\\Noselect) NIL Archivio\r\n" +
        '* LSUB () "." {14}\r\nINBOX.&AOA-(x)\r\n' +
        '* LIST () "\\\\" "a\\"b"\r\n' +
        "* 3 EXISTS\r\n",
    ),
    [9, 40, 75],
  );
  assert.deepEqual(readListed(r[0]!, "LIST"), {
    attributes: ["\\HasNoChildren", "\\Sent"],
    delimiter: "/",
    name: "Posta inviata",
  });
  assert.deepEqual(readListed(r[1]!, "LIST"), {
    attributes: ["\\Noselect"],
    delimiter: null,
    name: "Archivio",
  });
  assert.equal(readListed(r[2]!, "LIST"), null, "an LSUB answer is not a LIST answer");
  assert.deepEqual(readListed(r[2]!, "LSUB"), { attributes: [], delimiter: ".", name: "INBOX.&AOA-(x)" });
  assert.deepEqual(readListed(r[3]!, "LIST"), { attributes: [], delimiter: "\\", name: 'a"b' });
  assert.equal(readListed(r[4]!, "LIST"), null);
  // A server that writes UTF-8 names raw (not modified UTF-7) is read as UTF-8, not byte by byte.
  const raw = frame(Buffer.from('* LIST () "/" "Posta già letta"\r\n', "utf8"));
  assert.equal(readListed(raw[0]!, "LIST")?.name, "Posta già letta");
  assert.throws(() => readListed(frame(Buffer.from("* LIST (\\Sent)\r\n"))[0]!, "LIST"), ImapProtocolError);
});

test("NAMESPACE: the personal prefixes, and those of other users' and shared folders", () => {
  const [aruba, cyrus, none, other] = frame(
    Buffer.from(
      '* NAMESPACE (("INBOX." ".")) NIL NIL\r\n* NAMESPACE (("" "/")("#mh/" "/")) (("user." ".")) (("#shared/" "/"))\r\n' +
        "* NAMESPACE NIL NIL NIL\r\n* OK still here\r\n",
    ),
  );
  assert.deepEqual(readNamespaces(aruba!), { personal: ["INBOX."], others: [] });
  assert.deepEqual(readNamespaces(cyrus!), { personal: ["", "#mh/"], others: ["user.", "#shared/"] });
  assert.deepEqual(readNamespaces(none!), { personal: [], others: [] });
  assert.equal(readNamespaces(other!), null);
});

test("a folder called NIL is a folder called NIL", () => {
  assert.equal(readListed(frame(Buffer.from('* LIST () "/" NIL\r\n'))[0]!, "LIST")?.name, "NIL");
});
