// The copy's own IMAP connection (body-connection.ts) against a scripted server on a real socket: the
// parts of the protocol Dovecot does not exercise in the whole-box tests (LOGIN with a literal, PLAIN
// without SASL-IR, a server that says BYE or closes in the middle of a message), and the errors a member
// reads (migration/errors.ts reads their fields).
import assert from "node:assert/strict";
import { once } from "node:events";
import net from "node:net";
import { test } from "node:test";
import { BodyConnection } from "../../src/migration/body-connection.js";
import { classifyConnectError } from "../../src/migration/errors.js";
import { prepareSource } from "../../src/migration/source-prepare.js";

/**
 * Answers each whole command of the client: its lines with the literals it announced inline as
 * `<literal …>` (a "+" is sent for each synchronizing one), or a bare line while an AUTHENTICATE waits.
 */
type Script = (command: string, send: (s: string | Buffer) => void, sock: net.Socket) => void;

async function server(greeting: string, script: Script) {
  const commands: string[] = [];
  const srv = net.createServer((sock) => {
    sock.write(greeting);
    let buf = Buffer.alloc(0);
    let literal = 0;
    let command = "";
    sock.on("data", (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      for (;;) {
        if (literal > 0) {
          if (buf.length < literal) return;
          command += `<literal ${buf.subarray(0, literal).toString("utf8")}>`;
          buf = buf.subarray(literal);
          literal = 0;
          continue;
        }
        const lf = buf.indexOf(10);
        if (lf < 0) return;
        const line = buf
          .subarray(0, lf + 1)
          .toString("latin1")
          .replace(/\r?\n$/, "");
        buf = buf.subarray(lf + 1);
        const m = /\{(\d+)\}$/.exec(line);
        if (m) {
          command += line.slice(0, -m[0].length);
          literal = Number(m[1]);
          sock.write("+ go ahead\r\n");
          continue;
        }
        command += line;
        commands.push(command);
        script(command, (s) => sock.write(s), sock);
        command = "";
      }
    });
    sock.on("error", () => {});
  });
  srv.listen(0, "127.0.0.1");
  await once(srv, "listening");
  const port = (srv.address() as net.AddressInfo).port;
  return {
    ep: { host: "127.0.0.1", port, secure: false, user: "mario", password: "pàss" },
    commands,
    close: () => new Promise<void>((r) => srv.close(() => r())),
  };
}

const tag = (command: string) => command.split(" ")[0]!;

/** A server that logs in anyone and answers LOGOUT. */
const base: Script = (c, send) => {
  if (/^\S+ (LOGIN|AUTHENTICATE)/i.test(c) || /^[A-Za-z0-9+/=]+$/.test(c)) return;
  if (/ LOGOUT$/.test(c)) send(`* BYE logging out\r\n${tag(c)} OK bye\r\n`);
};

test("LOGIN sends a password that cannot be quoted as a literal, after the server's go-ahead", async (t) => {
  const s = await server("* OK [CAPABILITY IMAP4rev1] ready\r\n", (c, send) => {
    if (/ LOGIN /.test(c)) send(`${tag(c)} OK logged in\r\n`);
    else base(c, send, null as never);
  });
  t.after(s.close);
  const conn = await BodyConnection.open(s.ep);
  assert.equal(s.commands[0], 'D1 LOGIN "mario" <literal pàss>');
  await conn.logout();
  assert.equal(s.commands[1], "D2 LOGOUT");
});

test("AUTHENTICATE PLAIN without SASL-IR answers the server's challenge; a refusal is a failed login", async (t) => {
  let authTag = "";
  const s = await server("* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] ready\r\n", (c, send) => {
    if (/ AUTHENTICATE PLAIN$/.test(c)) {
      authTag = tag(c);
      send("+ \r\n");
    } else if (authTag && /^[A-Za-z0-9+/=]+$/.test(c)) {
      const [, user, pass] = Buffer.from(c, "base64").toString("utf8").split("\0");
      send(
        user === "mario" && pass === "pàss"
          ? `${authTag} OK welcome\r\n`
          : `${authTag} NO [AUTHENTICATIONFAILED] Authentication failed.\r\n`,
      );
    } else base(c, send, null as never);
  });
  t.after(s.close);
  const conn = await BodyConnection.open(s.ep);
  await conn.logout();
  const err = await BodyConnection.open({ ...s.ep, password: "wrong" }).catch((e: unknown) => e);
  assert.equal(classifyConnectError(err, "old").code, "AUTH_FAILED");
});

test("a server that says BYE in the middle of a FETCH fails the command, not the process, and is not used again", async (t) => {
  const s = await server("* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR] ready\r\n", (c, send, sock) => {
    if (/ AUTHENTICATE PLAIN /.test(c)) send(`${tag(c)} OK\r\n`);
    else if (/ EXAMINE /.test(c))
      send(`* 2 EXISTS\r\n* OK [UIDVALIDITY 42] ok\r\n${tag(c)} OK [READ-ONLY] done\r\n`);
    else if (/ UID FETCH 1:\* /.test(c))
      send(
        `* 1 FETCH (UID 7 FLAGS (\\Seen) RFC822.SIZE 3)\r\n* 2 FETCH (UID 9 FLAGS () RFC822.SIZE 5)\r\n${tag(c)} OK\r\n`,
      );
    else if (/ UID FETCH 7,9 /.test(c)) {
      send("* 1 FETCH (UID 7 BODY[] {3}\r\nabc)\r\n* BYE Internal error reading message 9\r\n");
      sock.end();
    } else base(c, send, sock);
  });
  t.after(s.close);
  const conn = await BodyConnection.open(s.ep);
  assert.deepEqual(await conn.examine("Posta inviata àè"), { uidValidity: 42, exists: 2 });
  assert.equal(s.commands[1], 'D2 EXAMINE "Posta inviata &AOAA6A-"');
  const scanned: unknown[] = [];
  await conn.scan((m) => scanned.push(m));
  assert.deepEqual(scanned, [
    { uid: 7, flags: ["\\Seen"], size: 3 },
    { uid: 9, flags: [], size: 5 },
  ]);
  const got: string[] = [];
  await assert.rejects(
    conn.fetchBodies("7,9", (m) => got.push(`${m.uid}:${Buffer.concat(m.body).toString()}`)),
    /Internal error reading message 9|closed/,
  );
  assert.deepEqual(got, ["7:abc"]);
  assert.equal(conn.usable, false);
  await assert.rejects(conn.examine("INBOX"));
  await conn.logout(); // does not wait for a server that is gone
});

test("a tagged NO fails the command and the connection goes on; a close in the middle of a literal settles", async (t) => {
  const s = await server("* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR] ready\r\n", (c, send, sock) => {
    if (/ AUTHENTICATE PLAIN /.test(c)) send(`${tag(c)} OK\r\n`);
    else if (/ EXAMINE "Nope"/.test(c)) send(`${tag(c)} NO [NONEXISTENT] Mailbox doesn't exist\r\n`);
    else if (/ EXAMINE /.test(c)) send(`* OK [UIDVALIDITY 1] ok\r\n${tag(c)} OK done\r\n`);
    else if (/ UID FETCH /.test(c)) {
      send("* 1 FETCH (UID 1 BODY[] {100}\r\nonly part of it");
      setTimeout(() => sock.destroy(), 20);
    } else base(c, send, sock);
  });
  t.after(s.close);
  const conn = await BodyConnection.open(s.ep);
  const err = await conn.examine("Nope").catch((e: unknown) => e);
  assert.equal((err as { serverResponseCode: string }).serverResponseCode, "NONEXISTENT");
  assert.equal(conn.usable, true);
  assert.equal((await conn.examine("INBOX")).uidValidity, 1);
  const got: number[] = [];
  await assert.rejects(conn.fetchBodies("1", (m) => got.push(m.uid)));
  assert.deepEqual(got, [], "a message cut short is not a message");
  assert.equal(conn.usable, false);
});

test("a refused connection and a BYE greeting are errors a member can act on", async (t) => {
  const s = await server("* BYE Too many connections\r\n", () => {});
  t.after(s.close);
  await assert.rejects(BodyConnection.open(s.ep), /Too many connections/);
  const free = net.createServer();
  free.listen(0, "127.0.0.1");
  await once(free, "listening");
  const port = (free.address() as net.AddressInfo).port;
  await new Promise<void>((r) => free.close(() => r()));
  const err = await BodyConnection.open({ ...s.ep, port }).catch((e: unknown) => e);
  assert.equal(classifyConnectError(err, "old").code, "SOURCE_UNREACHABLE");
});

test("what the first review found: a silent server, a BYE that does not close, a BYE before a refused login, an unreadable answer", async (t) => {
  // A server that accepts the connection and never greets: given up (30 s in use; 200 ms here).
  const silent = net.createServer(() => {});
  silent.listen(0, "127.0.0.1");
  await once(silent, "listening");
  t.after(() => new Promise<void>((r) => silent.close(() => r())));
  const port = (silent.address() as net.AddressInfo).port;
  const mute = await BodyConnection.open(
    { host: "127.0.0.1", port, secure: false, user: "u", password: "p" },
    200,
  ).catch((e: unknown) => e);
  assert.equal(classifyConnectError(mute, "old").code, "SOURCE_UNREACHABLE");

  const s = await server("* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR] ready\r\n", (c, send) => {
    const [, user] = Buffer.from(c.split(" ")[3] ?? "", "base64")
      .toString("utf8")
      .split("\0");
    if (/ AUTHENTICATE PLAIN /.test(c) && user === "locked")
      send(`* BYE Too many failed logins\r\n${tag(c)} NO Login failed\r\n`);
    else if (/ AUTHENTICATE PLAIN /.test(c)) send(`${tag(c)} OK\r\n`);
    else if (/ EXAMINE /.test(c)) send(`* OK [UIDVALIDITY 5] ok\r\n${tag(c)} OK done\r\n`);
    else if (/ UID FETCH 1:\* /.test(c))
      // A keyword may hold "[" (RFC 9051 atom-char); then an answer that never closes its list.
      send(`* 1 FETCH (UID 4 FLAGS (\\Seen todo[x) RFC822.SIZE 3)\r\n* 2 FETCH (UID 5 FLAGS (\\Seen\r\n`);
    else if (/ UID FETCH 4 /.test(c))
      send("* 1 FETCH (UID 4 BODY[] {2}\r\nab)\r\n* BYE Shutting down\r\n"); // and no close
    else base(c, send, null as never);
  });
  t.after(s.close);
  const locked = await BodyConnection.open({ ...s.ep, user: "locked" }).catch((e: unknown) => e);
  assert.equal(classifyConnectError(locked, "old").code, "AUTH_FAILED");

  const conn = await BodyConnection.open(s.ep);
  await conn.examine("INBOX");
  const scanned: unknown[] = [];
  await assert.rejects(conn.scan((m) => scanned.push(m)));
  assert.deepEqual(scanned, [{ uid: 4, flags: ["\\Seen", "todo[x"], size: 3 }]);
  assert.equal(conn.usable, false, "an answer that cannot be read ends the connection, not the process");

  const again = await BodyConnection.open(s.ep);
  await again.examine("INBOX");
  const got: number[] = [];
  const started = Date.now();
  const err = await again.fetchBodies("4", (m) => got.push(m.uid)).catch((e: unknown) => e);
  assert.ok(Date.now() - started < 5_000, "a BYE fails the command at once, not when the socket closes");
  assert.deepEqual(got, [4]);
  assert.equal(classifyConnectError(err, "old").code, "SOURCE_UNREACHABLE");
  assert.equal(again.usable, false);
});

test("LIST on our connection: NAMESPACE refused is an empty prefix; LSUB and LIST (SUBSCRIBED) refused, unknown subscriptions", async (t) => {
  const s = await server("* OK [CAPABILITY IMAP4rev1] ready\r\n", (c, send) => {
    if (/ LOGIN /.test(c)) send(`${tag(c)} OK logged in\r\n`);
    else if (/ NAMESPACE$/.test(c)) send(`${tag(c)} BAD unknown command\r\n`);
    else if (/ LIST "" "\*"$/.test(c))
      send(
        `* LIST (\\HasChildren) "." INBOX\r\n* LIST (\\HasNoChildren) "." {16}\r\nINBOX.Inviata &-\r\n` +
          `* LIST (\\Noselect) "." "INBOX.Archivio"\r\n${tag(c)} OK done\r\n`,
      );
    else if (/ LSUB /.test(c)) send(`${tag(c)} NO not now\r\n`);
    else if (/ LIST \(SUBSCRIBED\) /.test(c)) send(`${tag(c)} BAD no LIST-EXTENDED here\r\n`);
    else base(c, send, null as never);
  });
  t.after(s.close);
  const conn = await BodyConnection.open(s.ep);
  const listed = await conn.list();
  assert.equal(listed.namespacePrefix, "");
  assert.deepEqual(listed.folders, [
    { path: "INBOX", delimiter: ".", flags: ["\\HasChildren"], subscribed: true },
    {
      path: "INBOX.Archivio",
      wire: "INBOX.Archivio",
      delimiter: ".",
      flags: ["\\Noselect"],
      subscribed: true,
    },
    {
      path: "INBOX.Inviata &",
      wire: "INBOX.Inviata &-",
      delimiter: ".",
      flags: ["\\HasNoChildren"],
      subscribed: true,
    },
  ]);
  assert.ok(conn.usable, "refusals leave the connection usable");
  assert.deepEqual(s.commands.slice(1, 5), [
    "D2 NAMESPACE",
    'D3 LIST "" "*"',
    'D4 LSUB "" "*"',
    'D5 LIST (SUBSCRIBED) "" "*"',
  ]);
  await conn.logout();
});

test("a server without LSUB (IMAP4rev2) tells the subscriptions through LIST (SUBSCRIBED)", async (t) => {
  const s = await server("* OK [CAPABILITY IMAP4rev2] ready\r\n", (c, send) => {
    if (/ LOGIN /.test(c)) send(`${tag(c)} OK logged in\r\n`);
    else if (/ NAMESPACE$/.test(c)) send(`* NAMESPACE (("" "/")) NIL NIL\r\n${tag(c)} OK\r\n`);
    else if (/ LIST "" "\*"$/.test(c))
      send(`* LIST () "/" INBOX\r\n* LIST () "/" A\r\n* LIST () "/" B\r\n${tag(c)} OK done\r\n`);
    else if (/ LSUB /.test(c)) send(`${tag(c)} BAD no LSUB in IMAP4rev2\r\n`);
    else if (/ LIST \(SUBSCRIBED\) /.test(c)) send(`* LIST (\\Subscribed) "/" A\r\n${tag(c)} OK\r\n`);
    else base(c, send, null as never);
  });
  t.after(s.close);
  const conn = await BodyConnection.open(s.ep);
  const { folders } = await conn.list();
  assert.deepEqual(Object.fromEntries(folders.map((f) => [f.path, f.subscribed])), {
    INBOX: true,
    A: true,
    B: false,
  });
  await conn.logout();
});

test("the preparation opens each folder under the name the server listed, raw UTF-8 or loose modified UTF-7", async (t) => {
  const s = await server("* OK [CAPABILITY IMAP4rev1] ready\r\n", (c, send) => {
    if (/ LOGIN /.test(c)) send(`${tag(c)} OK logged in\r\n`);
    else if (/ NAMESPACE$/.test(c)) send(`* NAMESPACE (("" "/")) NIL NIL\r\n${tag(c)} OK\r\n`);
    else if (/ LIST "" "\*"$/.test(c))
      send(
        Buffer.from(
          `* LIST () "/" INBOX\r\n* LIST () "/" "Già letta"\r\n* LIST () "/" "Tom & Jerry"\r\n` +
            `* LIST () "/" "Posta &AOA-"\r\n${tag(c)} OK done\r\n`,
          "utf8",
        ),
      );
    else if (/ LSUB /.test(c)) send(`${tag(c)} OK\r\n`);
    else if (/ EXAMINE /.test(c))
      send(`* 0 EXISTS\r\n* OK [UIDVALIDITY 7] ok\r\n${tag(c)} OK [READ-ONLY] done\r\n`);
    else base(c, send, null as never);
  });
  t.after(s.close);
  let loggedIn: unknown = null;
  const { prepared, scanner } = await prepareSource(s.ep, (ep) => {
    loggedIn = ep;
  });
  assert.deepEqual(loggedIn, s.ep);
  assert.deepEqual(
    prepared.plan.map((p) => p.source),
    ["INBOX", "Già letta", "Posta à", "Tom & Jerry"],
  );
  assert.deepEqual(
    s.commands.filter((c) => / EXAMINE /.test(c)).map((c) => c.replace(/^\S+ /, "")),
    ['EXAMINE "INBOX"', "EXAMINE <literal Già letta>", 'EXAMINE "Posta &AOA-"', 'EXAMINE "Tom & Jerry"'],
  );
  assert.deepEqual(
    prepared.scans.map((f) => f.examined?.uidValidity),
    [7, 7, 7, 7],
  );
  await scanner.logout();
});
