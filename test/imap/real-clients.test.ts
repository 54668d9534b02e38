// Real mail programs from Debian's packages against a real `domicilio serve`: mbsync (isync) pulls a
// generated box of thousands of messages in nested non-ASCII folders and must get every message byte for
// byte with its flags; offlineimap does the same on the same box; mutt, driven in tmux, reads, moves and
// deletes.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { ImapFlow } from "imapflow";
import { decodeMutf7 } from "../../src/mime/mutf7.js";
import { runCli, type Served, serve } from "../helpers/cli.js";
import { type CorpusMessage, generateCorpus } from "../helpers/imap-corpus.js";
import { populate } from "../helpers/imap-populate.js";

const PASSWORD = "Password-lunga-2026";
const BIG = "mario.rossi@pec.example.it";
const MUTT = "giulia.bianchi@pec.example.it";
const MBSYNC_MESSAGES = 3000;

let dir: string;
let dataDir: string;
let served: Served;
let imapPort: number;
let bigCorpus: CorpusMessage[];

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "domicilio-imap-clients-"));
  dataDir = join(dir, "data");
  const init = runCli(["init", "--data", dataDir, "--domain", "pec.example.it", "--provider-name", "Prova"]);
  assert.equal(init.status, 0, init.stderr);
  for (const address of [BIG, MUTT]) {
    const r = runCli(["mailbox", "add", address, "--data", dataDir, "--password", PASSWORD, "--active"]);
    assert.equal(r.status, 0, r.stderr);
  }
  bigCorpus = generateCorpus({ messages: MBSYNC_MESSAGES, attachmentEvery: 50, attachmentBytes: 200_000 });
  await populate(dataDir, BIG, bigCorpus);
  await populate(
    dataDir,
    MUTT,
    generateCorpus({ messages: 5, seed: 9 }).map((m) => ({ ...m, folder: "INBOX", flags: [] })),
  );
  served = await serve(dataDir, {}, ["http", "imap", "imaps", "pop3", "pop3s"]);
  imapPort = served.listening.get("imap")!.port;
});

after(async () => {
  await served?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const MAILDIR_FLAGS: Record<string, string> = {
  D: "\\Draft",
  F: "\\Flagged",
  R: "\\Answered",
  S: "\\Seen",
  T: "\\Deleted",
};
const SYSTEM = new Set(Object.values(MAILDIR_FLAGS));

/** Every message file under a Maildir++/verbatim tree: folder → [{bytes, flags}]. */
function readMaildirs(
  root: string,
  decode: (name: string) => string,
): Map<string, { bytes: Buffer; flags: string[] }[]> {
  const out = new Map<string, { bytes: Buffer; flags: string[] }[]>();
  const walk = (d: string, rel: string) => {
    const entries = readdirSync(d);
    if (entries.includes("cur") && entries.includes("new")) {
      const list: { bytes: Buffer; flags: string[] }[] = [];
      for (const sub of ["cur", "new"]) {
        for (const f of readdirSync(join(d, sub))) {
          const m = /:2,([A-Za-z]*)$/.exec(f);
          const flags = [...(m?.[1] ?? "")]
            .map((c) => MAILDIR_FLAGS[c])
            .filter((x): x is string => !!x)
            .sort();
          // mbsync marks what it propagated with an X-TUID header of its own (isync docs); drop it.
          const bytes = Buffer.from(
            readFileSync(join(d, sub, f))
              .toString("latin1")
              .replace(/^X-TUID: \S+\r?\n/m, ""),
            "latin1",
          );
          list.push({ bytes, flags });
        }
      }
      out.set(decode(rel), list);
    }
    for (const e of entries) {
      if (["cur", "new", "tmp"].includes(e) || e.startsWith(".mbsync") || e.startsWith(".uidvalidity"))
        continue;
      const p = join(d, e);
      if (statSync(p).isDirectory()) walk(p, rel ? `${rel}/${e}` : e);
    }
  };
  walk(root, "");
  return out;
}

/**
 * Compares what a client stored with the corpus. `lf`: the client writes Maildir files with Unix line
 * ends (mbsync converts CRLF to LF by design), so the corpus is compared the same way.
 */
function assertSameAsCorpus(
  got: Map<string, { bytes: Buffer; flags: string[] }[]>,
  corpusIn: CorpusMessage[],
  lf = false,
): void {
  const corpus = lf
    ? corpusIn.map((m) => ({
        ...m,
        bytes: Buffer.from(m.bytes.toString("latin1").replace(/\r\n/g, "\n"), "latin1"),
      }))
    : corpusIn;
  const want = new Map<string, CorpusMessage[]>();
  for (const m of corpus) want.set(m.folder, [...(want.get(m.folder) ?? []), m]);
  for (const [folder, msgs] of want) {
    const have = got.get(folder) ?? [];
    assert.equal(have.length, msgs.length, `message count in ${folder}`);
    const byBytes = new Map(have.map((h) => [h.bytes.toString("latin1"), h.flags]));
    for (const m of msgs) {
      const flags = byBytes.get(m.bytes.toString("latin1"));
      if (!flags) {
        const id = /Message-ID: (<[^>]+>)/.exec(m.bytes.toString("latin1"))?.[1] ?? "";
        const near = have.find((h) => h.bytes.includes(id));
        let at = -1;
        if (near)
          for (let i = 0; i < Math.max(near.bytes.length, m.bytes.length); i++)
            if (near.bytes[i] !== m.bytes[i]) {
              at = i;
              break;
            }
        assert.fail(
          `${id} in ${folder} differs: ${near ? `first difference at byte ${at} of ${m.bytes.length}/${near.bytes.length}: ${JSON.stringify(near.bytes.subarray(Math.max(0, at - 40), at + 40).toString("latin1"))}` : "missing"}`,
        );
      }
      assert.deepEqual(flags, m.flags.filter((f) => SYSTEM.has(f)).sort(), `flags in ${folder}`);
    }
  }
}

test("mbsync pulls thousands of messages in nested non-ASCII folders byte for byte with their flags", {
  timeout: 240_000,
}, () => {
  const local = join(dir, "mbsync");
  mkdirSync(local, { recursive: true });
  const rc = join(dir, "mbsyncrc");
  writeFileSync(
    rc,
    [
      "IMAPAccount dom",
      "Host 127.0.0.1",
      `Port ${imapPort}`,
      `User ${BIG}`,
      `Pass ${PASSWORD}`,
      "SSLType None",
      "AuthMechs LOGIN",
      "PipelineDepth 50",
      "",
      "IMAPStore remote",
      "Account dom",
      "",
      "MaildirStore local",
      `Path ${local}/`,
      `Inbox ${local}/INBOX`,
      "SubFolders Verbatim",
      "",
      "Channel pull",
      "Far :remote:",
      "Near :local:",
      "Patterns *",
      "Create Near",
      "Sync Pull",
      "SyncState *",
      "",
    ].join("\n"),
  );
  const r = spawnSync("mbsync", ["-c", rc, "-a"], { encoding: "utf8", timeout: 200_000 });
  assert.equal(r.status, 0, `mbsync failed: ${r.stdout}\n${r.stderr}`);
  assertSameAsCorpus(readMaildirs(local, decodeMutf7), bigCorpus, true);
  // A second run finds nothing new and still exits 0.
  const again = spawnSync("mbsync", ["-c", rc, "-a"], { encoding: "utf8", timeout: 60_000 });
  assert.equal(again.status, 0, again.stderr);
});

test("offlineimap pulls a box with nested non-ASCII folders byte for byte with its flags", {
  timeout: 180_000,
}, () => {
  const local = join(dir, "offlineimap");
  mkdirSync(local, { recursive: true });
  const rc = join(dir, "offlineimaprc");
  writeFileSync(
    rc,
    [
      "[general]",
      "accounts = dom",
      `metadata = ${join(dir, "offlineimap-meta")}`,
      "ui = quiet",
      "",
      "[Account dom]",
      "localrepository = local",
      "remoterepository = remote",
      "",
      "[Repository local]",
      "type = Maildir",
      `localfolders = ${local}`,
      "sep = /",
      "",
      "[Repository remote]",
      "type = IMAP",
      "remotehost = 127.0.0.1",
      `remoteport = ${imapPort}`,
      `remoteuser = ${BIG}`,
      `remotepass = ${PASSWORD}`,
      "ssl = no",
      "starttls = no",
      "readonly = True",
      "",
    ].join("\n"),
  );
  const r = spawnSync("offlineimap", ["-c", rc, "-o", "-u", "quiet"], { encoding: "utf8", timeout: 150_000 });
  assert.equal(r.status, 0, `offlineimap failed: ${r.stdout}\n${r.stderr}`);
  const got = readMaildirs(local, decodeMutf7);
  // offlineimap writes the bytes it received; compare with Unix line ends if it converted them.
  const sample = [...got.values()].flat()[0];
  assertSameAsCorpus(got, bigCorpus, !!sample && !sample.bytes.includes("\r\n"));
});

/** Polls a tmux pane until `want` appears (bounded); returns the screen. */
function waitScreen(session: string, want: RegExp, timeoutMs = 30_000): string {
  const deadline = Date.now() + timeoutMs;
  let screen = "";
  while (Date.now() < deadline) {
    screen = spawnSync("tmux", ["capture-pane", "-p", "-t", session], { encoding: "utf8" }).stdout ?? "";
    if (want.test(screen)) return screen;
    spawnSync("sleep", ["0.2"]);
  }
  throw new Error(`tmux screen never showed ${want}:\n${screen}`);
}

function keys(session: string, ...k: string[]): void {
  spawnSync("tmux", ["send-keys", "-t", session, ...k]);
}

test("mutt in a terminal opens the box, reads a message, moves one and deletes another", {
  timeout: 120_000,
}, async () => {
  const setup = new ImapFlow({
    host: "127.0.0.1",
    port: imapPort,
    secure: false,
    auth: { user: MUTT, pass: PASSWORD },
    logger: false,
    tls: { rejectUnauthorized: false },
  });
  setup.on("error", () => {});
  await setup.connect();
  await setup.mailboxCreate("Archivio");
  await setup.logout();

  const rc = join(dir, "muttrc");
  writeFileSync(
    rc,
    [
      `set folder="imap://${encodeURIComponent(MUTT)}@127.0.0.1:${imapPort}/"`,
      `set imap_user="${MUTT}"`,
      `set imap_pass="${PASSWORD}"`,
      'set spoolfile="+INBOX"',
      "set ssl_starttls=no",
      "set ssl_force_tls=no",
      "set imap_passive=no",
      "set mail_check=1",
      "set timeout=2",
      'set header_cache=""',
      'set message_cachedir=""',
      "set move=no",
      "set confirmappend=no",
      "set delete=yes",
      "set quit=yes",
      "set sort=date-sent",
      "set pager_stop=yes",
      "set wait_key=no",
      "",
    ].join("\n"),
  );
  const session = `mutt-${process.pid}`;
  const start = spawnSync(
    "tmux",
    ["new-session", "-d", "-s", session, "-x", "160", "-y", "40", `TERM=xterm mutt -n -F ${rc}`],
    {
      encoding: "utf8",
    },
  );
  assert.equal(start.status, 0, start.stderr);
  try {
    waitScreen(session, /Pratica 4/);
    keys(session, "Enter");
    waitScreen(session, /Gentile collega|Saluti/);
    keys(session, "i");
    waitScreen(session, /Pratica 4/);
    keys(session, "s");
    waitScreen(session, /Save to mailbox/i);
    keys(session, "C-u", "=Archivio", "Enter");
    // Saved: mutt marks the original deleted (a "D" in the index) and moves to the next one.
    waitScreen(session, /^\s+1\s+D/m);
    keys(session, "d");
    waitScreen(session, /^\s+2\s+N?\s*D/m);
    keys(session, "$");
    spawnSync("sleep", ["1"]);
    keys(session, "q");
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline && spawnSync("tmux", ["has-session", "-t", session]).status === 0)
      spawnSync("sleep", ["0.2"]);
  } finally {
    spawnSync("tmux", ["kill-session", "-t", session]);
  }

  const check = new ImapFlow({
    host: "127.0.0.1",
    port: imapPort,
    secure: false,
    auth: { user: MUTT, pass: PASSWORD },
    logger: false,
    tls: { rejectUnauthorized: false },
  });
  check.on("error", () => {});
  await check.connect();
  try {
    const inbox = await check.status("INBOX", { messages: true });
    const archive = await check.status("Archivio", { messages: true });
    assert.equal(
      inbox && (inbox as { messages?: number }).messages,
      3,
      "one moved and one deleted out of five",
    );
    assert.equal(archive && (archive as { messages?: number }).messages, 1);
    const lock = await check.getMailboxLock("Archivio");
    try {
      const m = await check.fetchOne("1", { flags: true, envelope: true });
      assert.ok(m && m.flags!.has("\\Seen"), "the message read in mutt is \\Seen");
      assert.equal(m.envelope!.messageId, "<corpus-0@pec.example.it>");
    } finally {
      lock.release();
    }
  } finally {
    await check.logout();
  }
});
