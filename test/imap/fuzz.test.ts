// Random and mutated command streams against the server in every state (not authenticated, logged in,
// selected, inside IDLE and AUTHENTICATE): the server must never crash, never log an internal error, and
// every connection must be answered or closed with a BYE. The seed is printed to replay a failure.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { ImapServer } from "../../src/imap/server/server.js";
import { RawImap } from "../helpers/imap-raw.js";
import { mulberry32 } from "../helpers/prng.js";
import { createTempStore, type TempStore } from "../helpers/temp-store.js";

// Locally every run explores a new seed; CI replays fixed ones so that its verdict is reproducible:
// 437544, and seeds that once found a defect (323744: a command sent during IDLE was framed as one with a
// literal, and the session handed IDLE a later line than the TOOBIG it still had to answer).
const CI_SEEDS = [437544, 323744];
const SEEDS = process.env.FUZZ_SEED
  ? [Number(process.env.FUZZ_SEED)]
  : process.env.CI
    ? CI_SEEDS
    : [Date.now() % 1_000_000];
const ITERATIONS = Number(process.env.FUZZ_ITERATIONS ?? 120);
const USER = "fuzz@pec.example.it";

let temp: TempStore;
let server: ImapServer;
let port: number;
const bugs: unknown[] = [];

const rng = mulberry32;

const VALID: Record<string, string[]> = {
  notauth: [
    "CAPABILITY",
    "NOOP",
    'ID ("name" "fuzz")',
    "LOGIN a b",
    "AUTHENTICATE PLAIN",
    "AUTHENTICATE PLAIN AGZ1enoAcHc=",
    "STARTTLS",
    "LOGOUT",
  ],
  auth: [
    'LIST "" *',
    'LIST (SUBSCRIBED) "" % RETURN (CHILDREN STATUS (MESSAGES UNSEEN SIZE))',
    'LSUB "" *',
    "CREATE Fuzz/&AOA-",
    "DELETE Fuzz",
    "RENAME Fuzz Fuzz2",
    "SUBSCRIBE INBOX",
    "STATUS INBOX (MESSAGES UIDNEXT UIDVALIDITY UNSEEN HIGHESTMODSEQ)",
    "ENABLE QRESYNC UTF8=ACCEPT",
    "NAMESPACE",
    "GETQUOTAROOT INBOX",
    'GETQUOTA ""',
    "APPEND INBOX (\\Seen) {20+}\r\nSubject: x\r\n\r\nbody\r\n",
    'APPEND INBOX "01-Jan-2024 10:00:00 +0100" {33}\r\nContent-Type: multipart/mixed\r\n\r\n',
    "SELECT INBOX (CONDSTORE)",
    "EXAMINE INBOX",
    "IDLE",
  ],
  selected: [
    "FETCH 1:* (FLAGS UID RFC822.SIZE INTERNALDATE ENVELOPE BODYSTRUCTURE)",
    "FETCH 1 (BODY.PEEK[1.2.HEADER.FIELDS (SUBJECT)]<0.10> BINARY.PEEK[1] BINARY.SIZE[1])",
    "UID FETCH 1:* (FLAGS) (CHANGEDSINCE 1 VANISHED)",
    "FETCH * BODY[]",
    "SEARCH OR SUBJECT x NOT SEEN",
    "UID SEARCH RETURN (MIN MAX COUNT ALL SAVE) CHARSET UTF-8 TEXT {4}\r\ncaff",
    "SEARCH $",
    "STORE 1:* +FLAGS (\\Seen $Fuzz)",
    "UID STORE 1 (UNCHANGEDSINCE 5) FLAGS.SILENT (\\Deleted)",
    "COPY 1:2 Trash",
    "UID MOVE 1 Junk",
    "EXPUNGE",
    "UID EXPUNGE 1:*",
    "CHECK",
    "UNSELECT",
    "CLOSE",
    "IDLE",
  ],
};

const SPECIALS = [
  "(",
  ")",
  "{",
  "}",
  '"',
  "\\",
  "*",
  "%",
  "[",
  "]",
  "<",
  ">",
  " ",
  "\r\n",
  "\n",
  "\0",
  "\xff",
  "{5}\r\n",
  "{99999999999}",
  "~{3}",
  "0",
  "4294967296",
  ":",
  ",",
  "$",
  "+",
  "DONE\r\n",
];

function mutate(cmd: string, r: () => number): string {
  let s = cmd;
  const n = 1 + Math.floor(r() * 4);
  for (let i = 0; i < n; i++) {
    const at = Math.floor(r() * (s.length + 1));
    const op = r();
    if (op < 0.3) s = s.slice(0, at) + SPECIALS[Math.floor(r() * SPECIALS.length)] + s.slice(at);
    else if (op < 0.5) s = s.slice(0, at) + s.slice(at + 1 + Math.floor(r() * 5));
    else if (op < 0.65) s = s.slice(0, at);
    else if (op < 0.8) s = s.slice(0, at) + String.fromCharCode(Math.floor(r() * 256)) + s.slice(at + 1);
    else s = s + s.slice(0, at);
  }
  return s;
}

function randomStream(state: string, r: () => number): Buffer {
  const pool = [
    ...VALID.notauth!,
    ...(state !== "notauth" ? VALID.auth! : []),
    ...(state === "selected" ? VALID.selected! : []),
  ];
  const parts: string[] = [];
  const count = 1 + Math.floor(r() * 6);
  for (let i = 0; i < count; i++) {
    const base = pool[Math.floor(r() * pool.length)]!;
    const cmd = r() < 0.6 ? mutate(base, r) : base;
    const tag = r() < 0.1 ? mutate("x1", r) : `f${i}`;
    parts.push(r() < 0.05 ? cmd : `${tag} ${cmd}\r\n`);
  }
  if (r() < 0.1)
    parts.push(Buffer.from(Array.from({ length: 200 }, () => Math.floor(r() * 256))).toString("latin1"));
  return Buffer.from(parts.join(""), "latin1");
}

before(async () => {
  temp = await createTempStore("sqlite");
  const box = await temp.store.createMailbox({
    address: USER,
    passwordHash: "plain:pw",
    state: "active",
    quotaBytes: 5e6,
  });
  const inbox = (await temp.store.getFolder(box.id, "INBOX"))!;
  await temp.store.appendMessages(box.id, inbox.id, [
    {
      bytes: Buffer.from(
        "Subject: uno\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\nx\r\n--b--\r\n",
      ),
    },
    { bytes: Buffer.from("Subject: due\r\n\r\ncaffè\r\n") },
  ]);
  server = new ImapServer({
    store: temp.store,
    tls: null,
    limits: {
      maxLineBytes: 2000,
      maxLiteralBytes: 1000,
      maxAppendBytes: 100_000,
      maxCommandBytes: 50_000,
      authFailureDelayMs: 1,
    },
    verifyPassword: async (hash, pw) => hash === `plain:${pw}`,
    log: { info() {}, warn() {}, error: (obj) => bugs.push(obj) },
  });
  port = await server.listen(0, "127.0.0.1", false);
  for (const seed of SEEDS) console.log(`fuzz seed ${seed} (FUZZ_SEED=${seed} to replay)`);
});

after(async () => {
  await server.close();
  await temp.close();
});

const FILLER = `\r\n${"x".repeat(110_000)}\r\n`;

for (const seed of SEEDS) {
  test(
    `random and mutated command streams in every state never crash or hang the server (seed ${seed})`,
    {
      timeout: 240_000,
    },
    () => fuzz(seed),
  );
}

async function fuzz(seed: number): Promise<void> {
  const r = rng(seed);
  const states = ["notauth", "auth", "selected", "idle"];
  for (let i = 0; i < ITERATIONS; i++) {
    const state = states[i % states.length]!;
    const c = await RawImap.open(port);
    if (state !== "notauth") assert.match(await c.cmd(`LOGIN ${USER} pw`, "setup1"), /setup1 OK/);
    if (state === "selected" || state === "idle")
      assert.match(await c.cmd("SELECT INBOX", "setup2"), /setup2 OK/);
    if (state === "idle") {
      c.write("setup3 IDLE\r\n");
      await c.until((s) => s.includes("+ idling"));
    }
    c.take();
    const stream = randomStream(state === "idle" ? "selected" : state, r);
    // Cut the stream at random places, as the network would.
    for (let at = 0; at < stream.length; ) {
      const len = 1 + Math.floor(r() * 64);
      c.write(stream.subarray(at, at + len));
      at += len;
    }
    // Whatever state the stream left (open literal, IDLE, AUTHENTICATE), this ends it, and the final
    // command must be answered — or the connection closed with a BYE.
    c.write(FILLER);
    c.write("zzend NOOP\r\n");
    const text = await c
      .until((s) => /(^|\n)zzend (OK|NO|BAD)/.test(s), 20_000)
      .catch((err: Error) => {
        throw new Error(
          `iteration ${i} (${state}) got no answer: ${err.message}\nstream: ${JSON.stringify(stream.toString("latin1"))}`,
        );
      });
    if (c.closed && !/(^|\n)zzend /.test(text)) {
      assert.match(
        text,
        /\* BYE /,
        `iteration ${i}: closed without BYE; stream ${JSON.stringify(stream.toString("latin1"))}`,
      );
    }
    c.close();
    assert.deepEqual(
      bugs,
      [],
      `iteration ${i}: internal error for ${JSON.stringify(stream.toString("latin1"))}`,
    );
  }
  // Still serving.
  const c = await RawImap.open(port);
  assert.match(await c.cmd(`LOGIN ${USER} pw`), /OK/);
  c.close();
}
