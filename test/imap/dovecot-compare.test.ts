// Our answers next to Dovecot's for the same messages: BODYSTRUCTURE, BODY, ENVELOPE, sections, partials
// and BINARY must be identical (where the RFC leaves a choice, we follow Dovecot).
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { type Dovecot, startDovecot } from "../helpers/dovecot.js";
import { RawImap } from "../helpers/imap-raw.js";
import { PASSWORD, startTestImap, type TestImap, USER } from "../helpers/imap-server.js";

const crlf = (s: string) => Buffer.from(s.replace(/\r?\n/g, "\r\n"), "utf8");

export const TRICKY: Buffer[] = [
  crlf(`From: =?UTF-8?Q?Fran=C3=A7ois_P=C3=A9rez?= <f.perez@example.fr>
To: "Rossi, Mario" <mario.rossi@pec.example.it>, avv.bianchi@pec.example.it (Avvocato Bianchi)
Cc: Ufficio: a@example.it, "B" <b@example.it>;, c@example.it
Reply-To: <risposte@example.it>
Subject: =?ISO-8859-1?Q?Caff=E8?= e
 =?UTF-8?B?cGnDuQ==?=
Date: Tue, 21 Nov 2023 09:15:00 +0100 (CET)
Message-ID: <nested.1@example.it>
In-Reply-To: <orig@example.it>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="outer"

Preamble.
--outer
Content-Type: multipart/alternative; boundary=inner

--inner
Content-Type: text/plain; charset=iso-8859-1
Content-Transfer-Encoding: quoted-printable

Perch=E9 s=EC.=
 Fine
--inner
Content-Type: text/html; charset="utf-8"
Content-Transfer-Encoding: 8bit
Content-Language: it, en

<p>Perché sì.</p>
--inner--

--outer
Content-Type: application/pdf; name="atto notificato.pdf"
Content-Transfer-Encoding: base64
Content-Disposition: attachment; filename="atto notificato.pdf"; size=12
Content-ID: <pdf1@example.it>
Content-Description: Atto
Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==
Content-Location: http://example.it/atto.pdf

JVBERi0xLjQKJcOkw7zDtsOfCg==
--outer
Content-Type: message/rfc822

From: Posta Certificata <posta-certificata@pec.example.it>
To: mario.rossi@pec.example.it
Subject: ACCETTAZIONE: prova
Date: Tue, 21 Nov 2023 09:14:00 +0100
Message-ID: <inner.1@pec.example.it>
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary="x"

--x
Content-Type: text/plain

testo
--x
Content-Type: text/html

<b>testo</b>
--x--
--outer--
Epilogue.
`),
  crlf(`Subject: plain, no MIME headers
From: solo@example.it

Just text.
Two lines.
`),
  crlf(`From: Groups <g@example.it>
To: undisclosed-recipients:;
Subject: Oggetto in UTF-8 grezzo: città
Content-Type: multipart/digest; boundary="d"

--d

From: one@example.it
Subject: uno

primo
--d
Content-Type: text/plain; charset=us-ascii

non digest
--d--
`),
  crlf(`From: x@example.it
Content-Type: text/plain; name*0="lungo"; name*1="nome.txt"; format=flowed
Content-Transfer-Encoding: 7BIT

body
`),
  crlf(`Subject: only header
From: h@example.it
`),
  crlf(`From: a@example.it
Content-Type: multipart/mixed; boundary="b"

--b
Content-Type: message/rfc822

From: deep@example.it
Subject: deep

text body only
--b--
`),
];

const FETCHES = [
  "BODYSTRUCTURE",
  "BODY",
  "ENVELOPE",
  "RFC822.SIZE",
  "BODY.PEEK[HEADER.FIELDS (SUBJECT FROM x-missing)]",
  "BODY.PEEK[HEADER.FIELDS.NOT (Subject)]",
  "BODY.PEEK[1]",
  "BODY.PEEK[1.MIME]",
  "BODY.PEEK[1.1]<3.10>",
  "BODY.PEEK[1.2]",
  "BODY.PEEK[2]",
  "BODY.PEEK[3]",
  "BODY.PEEK[3.HEADER]",
  "BODY.PEEK[3.TEXT]",
  "BODY.PEEK[3.1]",
  "BODY.PEEK[3.2.MIME]",
  "BODY.PEEK[TEXT]<0.50>",
  "BODY.PEEK[]<10000.5>",
  "BINARY.PEEK[1.1]",
  "BINARY.SIZE[2]",
  "BINARY.PEEK[2]",
  "BODY.PEEK[4]",
  "BODY.PEEK[1.1.MIME]",
  "BODY.PEEK[3.2.1]",
];

let ours: TestImap;
let dove: Dovecot;
let a: RawImap;
let b: RawImap;

before(async () => {
  ours = await startTestImap();
  dove = await startDovecot({ users: [USER], password: PASSWORD, tls: false });
  a = await RawImap.open(ours.port);
  b = await RawImap.open(dove.port);
  for (const c of [a, b]) {
    assert.match(await c.cmd(`LOGIN ${USER} "${PASSWORD}"`), /OK/);
    for (const m of TRICKY) {
      c.write(
        Buffer.concat([
          Buffer.from(`ap APPEND INBOX (\\Seen) "21-Nov-2023 10:00:00 +0000" {${m.length}+}\r\n`),
          m,
          Buffer.from("\r\n"),
        ]),
      );
      await c.until((s) => /ap (OK|NO|BAD)[^\r\n]*\r\n/.test(s));
      assert.match(c.take(), /ap OK/);
    }
    assert.match(await c.cmd("SELECT INBOX"), /OK/);
  }
});

after(async () => {
  a?.close();
  b?.close();
  await ours?.close();
  await dove?.stop();
});

/** The untagged FETCH lines of an answer, which must match exactly. */
function fetchLines(text: string): string {
  return text
    .split(/(?=^\* )/m)
    .filter((l) => / FETCH /.test(l))
    .join("")
    .replace(/\r\nt\d+ OK[^\r\n]*\r\n$/, "\r\n");
}

for (const item of FETCHES) {
  test(`FETCH ${item} answers exactly as Dovecot`, async () => {
    const mine = fetchLines(await a.cmd(`FETCH 1:* (${item})`));
    const theirs = fetchLines(await b.cmd(`FETCH 1:* (${item})`));
    assert.ok(theirs.length > 0, "Dovecot answered");
    assert.equal(mine, theirs);
  });
}

const SEARCHES = [
  "ALL",
  "SUBJECT caffè",
  "SUBJECT più",
  "SUBJECT prova",
  "FROM françois",
  "FROM rossi",
  "TO bianchi",
  "CC example.it",
  'HEADER Message-ID "nested.1"',
  "HEADER X-Missing x",
  'HEADER Content-Type ""',
  "BODY perché",
  "BODY testo",
  "TEXT ACCETTAZIONE",
  "TEXT deep",
  "LARGER 150",
  "SMALLER 100",
  "SENTBEFORE 22-Nov-2023",
  "SENTON 21-Nov-2023",
  "SENTSINCE 1-Jan-2024",
  "ON 21-Nov-2023",
  "BEFORE 21-Nov-2023",
  "SEEN",
  "NOT SEEN",
  "OR SUBJECT uno SUBJECT only",
  "NOT (FROM x@example.it)",
  "2:4 NOT 3",
  "UID 1:3,5",
  "*",
];

for (const key of SEARCHES) {
  test(`SEARCH ${key} finds what Dovecot finds`, async () => {
    const q = Buffer.from(`SEARCH CHARSET UTF-8 ${key.replace(/[^\x00-\x7f]+/g, (m) => m)}`, "utf8");
    // Non-ASCII search text goes as a literal, as clients send it.
    const cmd = /[^\x00-\x7f]/.test(key)
      ? (() => {
          const [name, ...rest] = key.split(" ");
          const value = Buffer.from(rest.join(" "), "utf8");
          return Buffer.concat([Buffer.from(`SEARCH CHARSET UTF-8 ${name} {${value.length}+}\r\n`), value]);
        })()
      : q;
    const pick = (s: string) => /^\* SEARCH.*$/m.exec(s)?.[0] ?? `no SEARCH in ${s}`;
    assert.equal(pick(await a.cmd(cmd)), pick(await b.cmd(cmd)));
  });
}

/**
 * Commands whose OK/NO/BAD (and response code, but for NONEXISTENT, which Dovecot 2.3 leaves out where
 * RFC 5530 suggests it) must match Dovecot's, run in order on a fresh folder of each server.
 */
const CONVERSATION = [
  "CREATE Vuota",
  "SELECT Vuota",
  "FETCH 1:* FLAGS",
  "UID FETCH 1:* FLAGS",
  "SEARCH 1:*",
  "STORE 1:* +FLAGS (\\Seen)",
  "COPY 1:* INBOX",
  "FETCH * FLAGS",
  "APPEND Vuota {10+}\r\nSubject: a",
  "NOOP",
  "FETCH 5 FLAGS",
  "FETCH 1:5 FLAGS",
  "SEARCH 5",
  "UID FETCH 5 FLAGS",
  "SELECT Nonesiste",
  "FETCH 1 FLAGS",
  "CREATE INBOX",
  "DELETE INBOX",
  "RENAME Vuota Vuota",
  "SUBSCRIBE Nonesiste",
  'LIST "" Nonesiste',
  "EXAMINE Vuota",
  "STORE 1 +FLAGS (\\Seen)",
  "EXPUNGE",
  "CLOSE",
  "LOGIN a b",
  "APPEND Nonesiste {10+}\r\nSubject: a",
  "STATUS Nonesiste (MESSAGES)",
  "ENABLE CONDSTORE",
  "SELECT Vuota",
  "FETCH 1 (FLAGS",
  "FETCH 1 BODY[9]",
  "FETCH 1 BODY[1.MIME]",
  "STORE 1 FLAGS (\\Recent)",
  "COPY 1 Nonesiste",
  "MOVE 1 Nonesiste",
  "UID EXPUNGE 99",
  "UNSELECT",
  "DELETE Vuota",
];

test("a conversation of edge cases gets the same OK, NO or BAD as from Dovecot", async () => {
  const c1 = await RawImap.open(ours.port);
  const c2 = await RawImap.open(dove.port);
  const mine: string[] = [];
  const theirs: string[] = [];
  for (const [c, out] of [
    [c1, mine],
    [c2, theirs],
  ] as const) {
    await c.cmd(`LOGIN ${USER} "${PASSWORD}"`);
    for (const cmd of CONVERSATION) {
      const res = await c.cmd(cmd);
      const m =
        /^t\d+ (OK|NO|BAD)( \[(TRYCREATE|ALREADYEXISTS|READ-ONLY|READ-WRITE|MODIFIED)[^\]]*\])?/m.exec(res);
      out.push(`${cmd.split("\r\n")[0]} → ${m?.[1]}${m?.[3] ? ` [${m[3]}]` : ""}`);
    }
    c.close();
  }
  assert.deepEqual(mine, theirs);
});
