// POP3 on the store: the commands byte for byte over a socket, then curl and fetchmail as real clients.
import assert from "node:assert/strict";
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { hashPassword } from "../../src/accounts/passwords.js";
import { Pop3Server } from "../../src/pop3/server.js";
import { createSelfSigned } from "../../src/tls/self-signed.js";
import { RawImap } from "../helpers/imap-raw.js";
import { runAsync } from "../helpers/run-async.js";
import { createTempStore, type TempStore } from "../helpers/temp-store.js";

const PASSWORD = "Password-lunga-2026";
let temp: TempStore;
let server: Pop3Server;
let port: number;
let tlsPort: number;
let hash: string;
const MESSAGES = [
  "From: a@pec.example.it\r\nSubject: primo\r\n\r\nriga uno\r\n.riga che inizia con un punto\r\nfine\r\n",
  "From: b@pec.example.it\r\nSubject: secondo\r\n\r\n" + "linea\r\n".repeat(20),
  "From: c@pec.example.it\r\nSubject: terzo\r\n\r\nultimo\r\n",
];

async function box(address: string, state: "active" | "waiting-first-access" | "deactivated" = "active") {
  const b = await temp.store.createMailbox({ address, passwordHash: hash, state, quotaBytes: 10_000_000 });
  const inbox = (await temp.store.getFolder(b.id, "INBOX"))!;
  await temp.store.appendMessages(
    b.id,
    inbox.id,
    MESSAGES.map((m) => ({ bytes: Buffer.from(m) })),
  );
  return { box: b, inbox };
}

before(async () => {
  temp = await createTempStore("sqlite");
  hash = await hashPassword(PASSWORD);
  server = new Pop3Server({ store: temp.store, tls: await createSelfSigned("localhost") });
  port = await server.listen(0, "127.0.0.1", false);
  tlsPort = await server.listen(0, "127.0.0.1", true);
});

after(async () => {
  await server.close();
  await temp.close();
});

/** Sends one line and waits for a single-line or (multi) dot-terminated answer. */
async function say(c: RawImap, line: string, multi = false): Promise<string> {
  c.write(`${line}\r\n`);
  await c.until((s) => (multi ? /^-ERR|\r\n\.\r\n$/.test(s) : s.endsWith("\r\n")));
  return c.take();
}

test("a POP3 session lists, reads with dot-stuffing, tops, deletes and expunges on QUIT", async () => {
  const { box: b, inbox } = await box("pop.uno@pec.example.it");
  const c = await RawImap.open(port);
  const capa = await say(c, "CAPA", true);
  assert.match(capa, /^\+OK/);
  for (const cap of ["TOP", "UIDL", "USER", "STLS", "SASL PLAIN"])
    assert.ok(capa.includes(`\r\n${cap}\r\n`), cap);
  assert.match(await say(c, "USER pop.uno@pec.example.it"), /^\+OK/);
  assert.match(await say(c, `PASS ${PASSWORD}`), /^\+OK/);
  const sizes = MESSAGES.map((m) => Buffer.byteLength(m));
  assert.equal(await say(c, "STAT"), `+OK 3 ${sizes.reduce((a, b) => a + b)}\r\n`);
  assert.equal(await say(c, "LIST", true), `+OK\r\n1 ${sizes[0]}\r\n2 ${sizes[1]}\r\n3 ${sizes[2]}\r\n.\r\n`);
  assert.equal(await say(c, "UIDL 2"), `+OK 2 ${inbox.uidValidity}.2\r\n`);
  assert.equal(
    await say(c, "RETR 1", true),
    `+OK ${sizes[0]} octets\r\nFrom: a@pec.example.it\r\nSubject: primo\r\n\r\nriga uno\r\n..riga che inizia con un punto\r\nfine\r\n.\r\n`,
  );
  assert.equal(
    await say(c, "TOP 2 2", true),
    "+OK top of message follows\r\nFrom: b@pec.example.it\r\nSubject: secondo\r\n\r\nlinea\r\nlinea\r\n.\r\n",
  );
  assert.match(await say(c, "DELE 2"), /^\+OK/);
  assert.match(await say(c, "RETR 2"), /^-ERR/);
  assert.match(await say(c, "DELE 3"), /^\+OK/);
  assert.match(await say(c, "RSET"), /^\+OK/);
  assert.match(await say(c, "DELE 3"), /^\+OK/);
  assert.match(await say(c, "QUIT"), /^\+OK/);
  await c.until(() => c.closed);
  const left = await temp.store.listMessages(inbox.id);
  assert.deepEqual(
    left.map((m) => m.uid),
    [1, 2],
    "RSET undid DELE 2; DELE 3 after it stood",
  );
  assert.ok(left[0]!.flags.includes("\\Seen"), "RETR marks the message seen");
  void b;
});

test("a wrong password, a box waiting for first access and a deactivated box cannot log in", async () => {
  await box("pop.attesa@pec.example.it", "waiting-first-access");
  await box("pop.chiusa@pec.example.it", "deactivated");
  const c = await RawImap.open(port);
  await say(c, "USER pop.attesa@pec.example.it");
  assert.match(await say(c, "PASS sbagliata"), /^-ERR \[AUTH\]/);
  await say(c, "USER pop.attesa@pec.example.it");
  assert.match(await say(c, `PASS ${PASSWORD}`), /^-ERR \[AUTH\] Box not activated/);
  const auth = Buffer.from(`\0pop.chiusa@pec.example.it\0${PASSWORD}`).toString("base64");
  assert.match(await say(c, `AUTH PLAIN ${auth}`), /^-ERR \[SYS\/PERM\] This box has been deactivated/);
  assert.match(await say(c, "STAT"), /^-ERR/);
  c.close();
});

test("curl retrieves a message over POP3S byte for byte", async () => {
  await box("pop.curl@pec.example.it");
  const r = await runAsync(
    "curl",
    [
      "-s",
      "-k",
      "--max-time",
      "30",
      "-u",
      `pop.curl@pec.example.it:${PASSWORD}`,
      `pop3s://127.0.0.1:${tlsPort}/1`,
    ],
    { encoding: "latin1" },
  );
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, MESSAGES[0]);
});

test("fetchmail downloads every message through an MDA and removes them from the server", async () => {
  const { inbox } = await box("pop.fetch@pec.example.it");
  const dir = mkdtempSync(join(tmpdir(), "domicilio-fetchmail-"));
  try {
    const rc = join(dir, "fetchmailrc");
    writeFileSync(
      rc,
      [
        "set no syslog",
        `poll 127.0.0.1 protocol POP3 port ${port} auth password`,
        `  user "pop.fetch@pec.example.it" there with password "${PASSWORD}" is "nobody" here`,
        "  sslproto ''",
        `  mda "/bin/sh -c 'cat > ${dir}/msg.$$'"`,
        "",
      ].join("\n"),
    );
    chmodSync(rc, 0o600);
    const r = await runAsync("fetchmail", ["-f", rc, "-i", join(dir, "ids"), "--nodetach"], {
      timeoutMs: 60_000,
      env: { ...process.env, HOME: dir, FETCHMAILHOME: dir },
    });
    assert.ok(r.status === 0, `fetchmail exit ${r.status}: ${r.stdout}\n${r.stderr}`);
    const got = readdirSync(dir)
      .filter((f) => f.startsWith("msg."))
      .map((f) => readFileSync(join(dir, f), "latin1"));
    assert.equal(got.length, 3);
    // fetchmail adds its own Received: line and hands the MDA Unix line ends.
    for (const m of MESSAGES) {
      const lf = m.replace(/\r\n/g, "\n");
      assert.ok(
        got.some((g) => g.endsWith(lf)),
        `message ${JSON.stringify(m.slice(0, 40))} delivered whole`,
      );
    }
    assert.equal((await temp.store.listMessages(inbox.id)).length, 0, "fetched messages were deleted");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("mutated POP3 command streams in both states never crash the server and are always answered", async () => {
  await box("pop.fuzz@pec.example.it");
  let seed = Number(process.env.FUZZ_SEED ?? Date.now() % 100000);
  const r = () => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
  };
  const base = [
    "CAPA",
    "STAT",
    "LIST",
    "LIST 1",
    "UIDL",
    "UIDL 9",
    "RETR 1",
    "TOP 1 0",
    "DELE 2",
    "RSET",
    "NOOP",
    "AUTH PLAIN",
    "AUTH",
    "USER x",
    "PASS y",
    "STLS",
  ];
  for (let i = 0; i < 60; i++) {
    const c = await RawImap.open(port);
    if (i % 2 === 1) {
      await say(c, "USER pop.fuzz@pec.example.it");
      assert.match(await say(c, `PASS ${PASSWORD}`), /^\+OK/);
    }
    const lines: string[] = [];
    for (let k = 0; k < 5; k++) {
      let l = base[Math.floor(r() * base.length)]!;
      if (r() < 0.6) {
        const at = Math.floor(r() * (l.length + 1));
        l =
          l.slice(0, at) +
          ["\0", "\xff", " ", "99999999999999999999", "-1", "*", "\r"][Math.floor(r() * 7)] +
          l.slice(at);
      }
      lines.push(l);
    }
    // "STLS" would switch to TLS; the rest of the stream is then garbage to the TLS layer, which is fine.
    c.write(`${lines.join("\r\n")}\r\n*\r\nQUIT\r\n`);
    // After "+OK Begin TLS" the server waits for a TLS handshake and (RFC 2595 §4) ignores what followed.
    const text = await c.until((s) => /\+OK (Bye|Begin TLS)/.test(s), 10_000);
    assert.ok(
      /\+OK (Bye|Begin TLS)/.test(text) || c.closed,
      `stream ${JSON.stringify(lines)} (seed ${seed})`,
    );
    c.close();
  }
  const c = await RawImap.open(port);
  assert.match(await say(c, "CAPA", true), /^\+OK/);
  c.close();
});
