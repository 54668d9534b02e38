// The server's answers on the wire: greeting and capabilities, limits (line, literal, bad commands,
// connections per IP, failed logins), boxes that may not log in, STARTTLS, and a slow reader that does
// not hold up anyone else.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { networkInterfaces } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { connect as tlsConnect } from "node:tls";
import { RawImap } from "../helpers/imap-raw.js";
import { hashFor, PASSWORD, startTestImap, type TestImap, USER } from "../helpers/imap-server.js";

let t: TestImap;

function rawConnect(port: number, cb: () => void): Socket {
  return connect({ port, host: "127.0.0.1" }, cb);
}

before(async () => {
  t = await startTestImap({
    limits: {
      maxLineBytes: 300,
      maxLiteralBytes: 100,
      maxBadCommands: 5,
      maxConnectionsPerIp: 8,
      authFailureDelayMs: 5,
    },
  });
  const hash = await hashFor(PASSWORD);
  await t.temp.store.createMailbox({ address: "attesa@pec.example.it", passwordHash: hash, quotaBytes: 1e6 });
  await t.temp.store.createMailbox({
    address: "chiusa@pec.example.it",
    passwordHash: hash,
    quotaBytes: 1e6,
    state: "deactivated",
  });
});
after(() => t.close());

async function loggedIn(): Promise<RawImap> {
  const c = await RawImap.open(t.port);
  assert.match(await c.cmd(`LOGIN ${USER} "${PASSWORD}"`), /^t\d+ OK \[CAPABILITY /m);
  return c;
}

test("the greeting lists capabilities, with STARTTLS and plain-text login allowed on loopback", async () => {
  const c = new RawImap(
    await new Promise((resolve) => {
      const s = rawConnect(t.port, () => resolve(s));
    }),
  );
  const greeting = await c.until((s) => s.includes("\r\n"));
  assert.match(
    greeting,
    /^\* OK \[CAPABILITY IMAP4rev1 STARTTLS AUTH=PLAIN AUTH=LOGIN SASL-IR LITERAL\+ [^\]]*\] /,
  );
  const caps = await c.cmd("CAPABILITY");
  assert.match(caps, /^\* CAPABILITY IMAP4rev1 STARTTLS AUTH=PLAIN/m);
  c.close();
  const d = await loggedIn();
  const after = await d.cmd("CAPABILITY");
  for (const cap of [
    "IDLE",
    "NAMESPACE",
    "UIDPLUS",
    "MOVE",
    "SPECIAL-USE",
    "LIST-EXTENDED",
    "LIST-STATUS",
    "ENABLE",
    "ID",
    "LITERAL+",
    "QUOTA",
    "UNSELECT",
    "CONDSTORE",
    "QRESYNC",
    "ESEARCH",
    "UTF8=ACCEPT",
    "APPENDLIMIT=",
    "BINARY",
  ]) {
    assert.ok(after.includes(` ${cap}`), `${cap} advertised after login`);
  }
  assert.ok(!after.includes("STARTTLS"), "no STARTTLS once logged in");
  d.close();
});

test("boxes waiting for first access or deactivated cannot log in, with a clear code", async () => {
  const c = await RawImap.open(t.port);
  assert.match(
    await c.cmd(`LOGIN attesa@pec.example.it "${PASSWORD}"`),
    /^t\d+ NO \[AUTHENTICATIONFAILED\] Box not activated/m,
  );
  assert.match(
    await c.cmd(`LOGIN chiusa@pec.example.it "${PASSWORD}"`),
    /^t\d+ NO \[UNAVAILABLE\] This box has been deactivated/m,
  );
  assert.match(await c.cmd("SELECT INBOX"), /^t\d+ BAD Log in first/m);
  c.close();
});

test("three wrong passwords end the connection with BYE", async () => {
  const c = await RawImap.open(t.port);
  assert.match(await c.cmd(`LOGIN ${USER} sbagliata1`), /^t1 NO \[AUTHENTICATIONFAILED\]/m);
  assert.match(await c.cmd(`LOGIN ${USER} sbagliata2`), /^t2 NO \[AUTHENTICATIONFAILED\]/m);
  c.write("t3 LOGIN x y\r\n");
  const text = await c.until(() => c.closed);
  assert.match(text, /^\* BYE Too many failed logins/m);
});

test("AUTHENTICATE PLAIN with an initial response and AUTHENTICATE LOGIN with continuations", async () => {
  const c = await RawImap.open(t.port);
  const plain = Buffer.from(`\0${USER}\0${PASSWORD}`).toString("base64");
  assert.match(await c.cmd(`AUTHENTICATE PLAIN ${plain}`), /^t1 OK /m);
  c.close();
  const d = await RawImap.open(t.port);
  d.write("a AUTHENTICATE LOGIN\r\n");
  assert.equal(
    await d.until((s) => s.endsWith("\r\n")),
    `+ ${Buffer.from("Username:").toString("base64")}\r\n`,
  );
  d.take();
  d.write(`${Buffer.from(USER).toString("base64")}\r\n`);
  await d.until((s) => s.endsWith("\r\n"));
  d.take();
  d.write(`${Buffer.from(PASSWORD).toString("base64")}\r\n`);
  assert.match(await d.until((s) => /^a (OK|NO)/m.test(s)), /^a OK /m);
  d.close();
});

test("an over-long line is refused with TOOBIG and the connection goes on", async () => {
  const c = await loggedIn();
  assert.match(await c.cmd(`NOOP ${"x".repeat(400)}`), /^t\d+ BAD \[TOOBIG\]/m);
  assert.match(await c.cmd("NOOP"), /^t\d+ OK/m);
  c.close();
});

test("a command sent during IDLE is IDLE's wrong answer, not a literal to wait for; after a line over the limit the next command is answered", async () => {
  // The fuzz seed 323744 on the wire: APPEND with literals sent during IDLE, then a line over the limit.
  const c = await loggedIn();
  await c.cmd("SELECT INBOX");
  c.write("i IDLE\r\n");
  await c.until((s) => s.includes("+ idling\r\n"));
  c.take();
  c.write(
    'f0 APPEND INBOX "01-Jan-2024 10:00:00 +0100" {33}\r\nContent-Type: multipart/mixed\r\n\r\n' +
      'APPEND INBOX "01-Jan-2024 10:00:00 +0100" {33}\r\nContent-Type: multipart/mixe\r\n',
  );
  c.write(`\r\n${"x".repeat(1000)}\r\n`);
  c.write("zzend NOOP\r\n");
  const text = await c.until((s) => /^zzend (OK|NO|BAD)/m.test(s));
  // RFC 2177 §3: the line after IDLE ends it; it is not DONE, so IDLE ends with BAD and nothing of that
  // line is read as a literal. The lines after it are commands: the second APPEND's literal is accepted
  // and runs into the over-long line, which drops that command with one BAD [TOOBIG].
  assert.deepEqual(
    text.split("\r\n").filter((l) => l !== ""),
    [
      "i BAD Expected DONE",
      "Content-Type: BAD Unknown command MULTIPART/MIXED",
      "* BAD Empty command line",
      "+ Ready for literal data",
      "APPEND BAD [TOOBIG] Command line too long",
      "zzend OK NOOP completed",
    ],
  );
  assert.match(await c.cmd("NOOP"), /^t\d+ OK/m);
  c.close();
});

test("a line over the limit during IDLE ends IDLE with BAD [TOOBIG] and commands are read again", async () => {
  const c = await loggedIn();
  await c.cmd("SELECT INBOX");
  c.write("i IDLE\r\n");
  await c.until((s) => s.includes("+ idling\r\n"));
  c.take();
  c.write(`${"D".repeat(1000)} {5+}\r\nb NOOP\r\n`);
  const text = await c.until((s) => /^b (OK|NO|BAD)/m.test(s));
  assert.match(text, /^i BAD \[TOOBIG\] [^\r]*\r\nb OK /);
  c.close();
});

test("a synchronizing literal over the limit gets NO [TOOBIG] without continuation; LITERAL+ gets BYE", async () => {
  const c = await loggedIn();
  c.write("big SEARCH SUBJECT {101}\r\n");
  assert.match(await c.until((s) => s.includes("\r\n")), /^big NO \[TOOBIG\]/);
  c.take();
  assert.match(await c.cmd("NOOP"), /^t\d+ OK/m);
  c.write(`huge SEARCH SUBJECT {101+}\r\n${"x".repeat(101)}\r\n`);
  assert.match(await c.until(() => c.closed), /^\* BYE \[TOOBIG\]/m);
});

test("consecutive bad commands end with BYE", async () => {
  const c = await loggedIn();
  for (let i = 0; i < 4; i++) assert.match(await c.cmd("FOO"), /^t\d+ BAD/m);
  c.write("t9 BAR\r\n");
  assert.match(await c.until(() => c.closed), /^\* BYE Too many invalid commands/m);
});

test("sequence numbers beyond the mailbox are BAD, and SELECT over a selection says [CLOSED]", async () => {
  const c = await loggedIn();
  await c.cmd("SELECT INBOX");
  assert.match(await c.cmd("FETCH 999 FLAGS"), /^t\d+ BAD/m);
  assert.match(await c.cmd("EXAMINE INBOX"), /^\* OK \[CLOSED\][\s\S]*READ-ONLY/m);
  c.close();
});

test("an EXPUNGE by another connection is not reported during FETCH but on the next NOOP", async () => {
  const a = await loggedIn();
  const b = await loggedIn();
  await a.cmd("CREATE Exp");
  for (const s of ["uno", "due", "tre"]) await a.cmd(`APPEND Exp {${9 + s.length}+}\r\nSubject: ${s}`);
  await a.cmd("SELECT Exp");
  await b.cmd("SELECT Exp");
  await b.cmd("STORE 2 +FLAGS.SILENT (\\Deleted)");
  await b.cmd("EXPUNGE");
  const fetch = await a.cmd("FETCH 1:3 (FLAGS)");
  assert.doesNotMatch(fetch, /EXPUNGE/);
  // Sequence numbers stay as the client knows them until the EXPUNGE is reported.
  assert.match(fetch, /^\* 3 FETCH \(FLAGS \(\\Recent\)\)/m);
  const noop = await a.cmd("NOOP");
  assert.match(noop, /^\* 2 EXPUNGE\r\n/m);
  assert.match(await a.cmd("FETCH 1:* (UID)"), /^\* 1 FETCH \(UID 1\)\r\n\* 2 FETCH \(UID 3\)\r\n/m);
  a.close();
  b.close();
});

test("STARTTLS upgrades the connection and drops anything pipelined after it", async () => {
  const c = await RawImap.open(t.port);
  c.write("s STARTTLS\r\ninjected NOOP\r\n");
  assert.match(await c.until((s) => /^s OK/m.test(s)), /^s OK/m);
  c.take();
  const secure = tlsConnect({ socket: c.sock, rejectUnauthorized: false });
  await new Promise<void>((resolve) => secure.once("secureConnect", () => resolve()));
  const s = new RawImap(secure);
  const caps = await s.cmd("CAPABILITY");
  assert.doesNotMatch(caps, /injected/);
  assert.doesNotMatch(caps, /STARTTLS/);
  assert.match(await s.cmd(`LOGIN ${USER} "${PASSWORD}"`), /^t\d+ OK/m);
  s.close();
});

test("a client that does not read its FETCH answer does not hold up other connections", async () => {
  const a = await loggedIn();
  const big = Buffer.alloc(3 * 1024 * 1024, "a");
  await a.cmd(Buffer.concat([Buffer.from(`APPEND INBOX {${big.length + 13}+}\r\nSubject: x\r\n\r\n`), big]));
  await a.cmd("SELECT INBOX");
  a.sock.pause();
  for (let i = 0; i < 10; i++) a.write(`slow${i} FETCH 1:* (BODY.PEEK[])\r\n`);
  const b = await loggedIn();
  assert.match(await b.cmd("SELECT INBOX"), /^t\d+ OK/m);
  assert.match(await b.cmd("NOOP"), /^t\d+ OK/m);
  b.close();
  a.close();
});

test("connections per IP are capped with a BYE", async () => {
  const open: RawImap[] = [];
  // The limit is 8; some may still be open from earlier tests, so open until refused.
  let refused = "";
  for (let i = 0; i < 12 && !refused; i++) {
    const c = await RawImap.open(t.port).catch(() => null);
    if (!c) break;
    open.push(c);
    await new Promise((r) => setTimeout(r, 20));
    if (c.closed) refused = "closed";
  }
  const text = await new Promise<string>((resolve) => {
    const s = rawConnect(t.port, () => {});
    let got = "";
    s.on("data", (d) => (got += d.toString()));
    s.on("close", () => resolve(got));
  });
  assert.match(text, /^\* BYE Too many connections/m);
  for (const c of open) c.close();
  // Leave the server as the next test expects it: no connections from us.
  for (let i = 0; i < 250 && t.server.connectionCount > 0; i++) await new Promise((r) => setTimeout(r, 20));
  assert.equal(t.server.connectionCount, 0, "every connection of this file has been closed");
});

test("CAPABILITY after login is exactly the table in docs/imap-pop3.md", async () => {
  const doc = readFileSync(join(import.meta.dirname, "..", "..", "docs", "imap-pop3.md"), "utf8");
  const table = doc.slice(
    doc.indexOf("<!-- capabilities:start -->"),
    doc.indexOf("<!-- capabilities:end -->"),
  );
  const documented = [...table.matchAll(/^\| ([A-Z][A-Za-z0-9=+-]*) \|/gm)].map((m) => m[1]!).sort();
  const c = await loggedIn();
  const line = /^\* CAPABILITY (.*)\r$/m.exec(await c.cmd("CAPABILITY"))![1]!;
  const advertised = line
    .split(" ")
    .map((x) => x.replace(/^APPENDLIMIT=\d+$/, "APPENDLIMIT"))
    .sort();
  assert.deepEqual(advertised, documented);
  c.close();
});

const lanAddress = Object.values(networkInterfaces())
  .flat()
  .find((i) => i && i.family === "IPv4" && !i.internal)?.address;

test("off loopback, plain-text login waits for STARTTLS (LOGINDISABLED, PRIVACYREQUIRED)", {
  skip: lanAddress ? false : "this machine has no non-loopback IPv4 address to test from",
}, async () => {
  const lanPort = await t.server.listen(0, lanAddress!, false);
  const sock = connect({ port: lanPort, host: lanAddress! });
  await new Promise<void>((resolve) => sock.once("connect", () => resolve()));
  const c = new RawImap(sock);
  const greeting = await c.until((s) => s.includes("\r\n"));
  c.take();
  assert.match(greeting, /LOGINDISABLED/);
  assert.doesNotMatch(greeting, /AUTH=PLAIN/);
  assert.match(await c.cmd(`LOGIN ${USER} "${PASSWORD}"`), /^t\d+ NO \[PRIVACYREQUIRED\]/m);
  c.write("s STARTTLS\r\n");
  await c.until((s) => /^s OK/m.test(s));
  c.take();
  const secure = tlsConnect({ socket: sock, rejectUnauthorized: false });
  await new Promise<void>((resolve) => secure.once("secureConnect", () => resolve()));
  const s = new RawImap(secure);
  assert.match(await s.cmd("CAPABILITY"), /AUTH=PLAIN/);
  assert.match(await s.cmd(`LOGIN ${USER} "${PASSWORD}"`), /^t\d+ OK/m);
  s.close();
});

test("a keyword new to the folder is announced in FLAGS before the FETCH that carries it", async () => {
  const c = await loggedIn();
  await c.cmd("CREATE Kw");
  assert.match(await c.cmd("APPEND Kw {10+}\r\nSubject: k"), /^t\d+ OK \[APPENDUID /m);
  await c.cmd("SELECT Kw");
  const res = await c.cmd("STORE 1 +FLAGS ($Nuovo)");
  assert.match(
    res,
    /^\* FLAGS \(\\Answered \\Flagged \\Deleted \\Seen \\Draft \$Nuovo\)\r\n\* OK \[PERMANENTFLAGS \([^)]*\$Nuovo \\\*\)\][^\r]*\r\n\* 1 FETCH \(FLAGS \(\$Nuovo \\Recent\)\)/m,
  );
  // Told once: the next change does not repeat it.
  assert.doesNotMatch(await c.cmd("STORE 1 +FLAGS (\\Seen)"), /^\* FLAGS/m);
  c.close();
});
