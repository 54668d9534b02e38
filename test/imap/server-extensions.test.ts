// Extensions on the wire: QRESYNC (VANISHED on reselect and live), ESEARCH and SEARCHRES, LIST-EXTENDED
// with LIST-STATUS, UTF8=ACCEPT names, QUOTA with OVERQUOTA on COPY, NAMESPACE, ID, and a delivery made
// through the store (as SMTP does) reaching a connection in IDLE.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { RawImap } from "../helpers/imap-raw.js";
import { PASSWORD, startTestImap, type TestImap, USER } from "../helpers/imap-server.js";

let t: TestImap;
before(async () => {
  t = await startTestImap({ quotaBytes: 20_000 });
});
after(() => t.close());

async function loggedIn(): Promise<RawImap> {
  const c = await RawImap.open(t.port);
  assert.match(await c.cmd(`LOGIN ${USER} "${PASSWORD}"`), /^t\d+ OK/m);
  return c;
}

async function append(c: RawImap, folder: string, subject: string, flags = ""): Promise<number> {
  const msg = `Subject: ${subject}\r\n\r\nbody ${subject}\r\n`;
  const res = await c.cmd(`APPEND ${folder} (${flags}) {${msg.length}+}\r\n${msg}`);
  const m = /APPENDUID \d+ (\d+)/.exec(res);
  assert.ok(m, res);
  return Number(m[1]);
}

test("QRESYNC: a reselect reports VANISHED (EARLIER) and changed flags; live expunges come as VANISHED", async () => {
  const a = await loggedIn();
  await a.cmd("CREATE Qr");
  for (const s of ["a", "b", "c", "d"]) await append(a, "Qr", s);
  assert.match(await a.cmd("ENABLE QRESYNC"), /^\* ENABLED QRESYNC/m);
  const sel = await a.cmd("SELECT Qr");
  const uidValidity = /UIDVALIDITY (\d+)/.exec(sel)![1];
  const modseq = Number(/HIGHESTMODSEQ (\d+)/.exec(sel)![1]);
  await a.cmd("UNSELECT");

  const b = await loggedIn();
  await b.cmd("SELECT Qr");
  await b.cmd("UID STORE 2 +FLAGS.SILENT (\\Deleted)");
  await b.cmd("UID EXPUNGE 2");
  await b.cmd("UID STORE 3 +FLAGS.SILENT (\\Flagged)");

  const re = await a.cmd(`SELECT Qr (QRESYNC (${uidValidity} ${modseq} 1:4))`);
  assert.match(re, /^\* VANISHED \(EARLIER\) 2\r\n/m);
  assert.match(re, /^\* 2 FETCH \(UID 3 FLAGS \(\\Flagged\) MODSEQ \(\d+\)\)/m);
  // Live: another connection expunges; the QRESYNC client hears VANISHED, not EXPUNGE.
  await b.cmd("UID STORE 4 +FLAGS.SILENT (\\Deleted)");
  await b.cmd("UID EXPUNGE 4");
  const noop = await a.cmd("NOOP");
  assert.match(noop, /^\* VANISHED 4\r\n/m);
  assert.doesNotMatch(noop, /EXPUNGE/);
  a.close();
  b.close();
});

test("ESEARCH answers MIN, MAX, COUNT and ALL, and SEARCHRES saves a result for $", async () => {
  const c = await loggedIn();
  await c.cmd("CREATE Es");
  for (const s of ["uno", "due", "tre", "quattro"]) await append(c, "Es", s, s === "due" ? "\\Seen" : "");
  await c.cmd("SELECT Es");
  const r = await c.cmd("UID SEARCH RETURN (MIN MAX COUNT ALL) UNSEEN");
  assert.match(r, /^\* ESEARCH \(TAG "t\d+"\) UID MIN 1 MAX 4 ALL 1,3:4 COUNT 3\r\n/m);
  assert.match(
    await c.cmd("SEARCH RETURN (COUNT) SUBJECT nessuno"),
    /^\* ESEARCH \(TAG "t\d+"\) COUNT 0\r\n/m,
  );
  const saved = await c.cmd("SEARCH RETURN (SAVE) SEEN");
  assert.doesNotMatch(saved, /ESEARCH/);
  assert.match(await c.cmd("FETCH $ (UID)"), /^\* 2 FETCH \(UID 2\)\r\nt\d+ OK/m);
  assert.match(await c.cmd("SEARCH NOT SEEN"), /^\* SEARCH 1 3 4\r\n/m);
  c.close();
});

test("LIST-EXTENDED with RETURN (SUBSCRIBED CHILDREN STATUS) and special-use attributes", async () => {
  const c = await loggedIn();
  await c.cmd('CREATE "Pratiche/Citt&AOA-"');
  const r = await c.cmd('LIST "" "*" RETURN (SUBSCRIBED CHILDREN STATUS (MESSAGES UIDNEXT))');
  assert.match(
    r,
    /^\* LIST \(\\HasNoChildren \\Subscribed\) "\/" INBOX\r\n\* STATUS INBOX \(MESSAGES \d+ UIDNEXT \d+\)\r\n/m,
  );
  assert.match(r, /^\* LIST \(\\HasChildren\) "\/" Pratiche\r\n/m);
  assert.match(r, /^\* LIST \(\\HasNoChildren\) "\/" Pratiche\/Citt&AOA-\r\n/m);
  assert.match(r, /^\* LIST \(\\HasNoChildren \\Subscribed \\Sent\) "\/" Sent\r\n/m);
  const special = await c.cmd('LIST (SPECIAL-USE) "" "*"');
  assert.doesNotMatch(special, /Pratiche|INBOX/);
  assert.match(special, /\\Trash\) "\/" Trash/);
  assert.match(await c.cmd('LIST "" ""'), /^\* LIST \(\\Noselect\) "\/" ""\r\n/m);
  assert.match(await c.cmd('LIST "" %'), /^\* LIST \(\\HasChildren\) "\/" Pratiche\r\n/m);
  assert.doesNotMatch(await c.cmd('LIST "" %'), /Citt/);
  c.close();
});

test("after ENABLE UTF8=ACCEPT mailbox names travel as UTF-8", async () => {
  const c = await loggedIn();
  assert.match(await c.cmd("ENABLE UTF8=ACCEPT"), /^\* ENABLED UTF8=ACCEPT/m);
  assert.match(await c.cmd(Buffer.from('CREATE "Più"')), /^t\d+ OK/m);
  assert.ok((await c.cmd('LIST "" "P*"')).includes(`"${Buffer.from("Più").toString("latin1")}"`));
  assert.match(
    await c.cmd(Buffer.from([...Buffer.from('CREATE "Pi'), 0xf9, 0x22])),
    /^t\d+ NO \[CANNOT\] Mailbox name is not valid UTF-8/m,
  );
  c.close();
  const d = await loggedIn();
  assert.match(await d.cmd('LIST "" "P*"'), / Pi&APk-\r\n/);
  d.close();
});

test("QUOTA reports the box's storage, and a COPY that would pass it answers NO [OVERQUOTA]", async () => {
  const c = await loggedIn();
  const root = await c.cmd("GETQUOTAROOT INBOX");
  assert.match(root, /^\* QUOTAROOT INBOX ""\r\n\* QUOTA "" \(STORAGE \d+ 19\)\r\n/m);
  await c.cmd("CREATE Big");
  const body = "x".repeat(7000);
  const msg = `Subject: big\r\n\r\n${body}`;
  assert.match(await c.cmd(`APPEND Big {${msg.length}+}\r\n${msg}`), /OK/);
  await c.cmd("SELECT Big");
  assert.match(await c.cmd("COPY 1 Big"), /^t\d+ OK/m);
  assert.match(await c.cmd("COPY 1:* Big"), /^t\d+ NO \[OVERQUOTA\]/m);
  assert.match(await c.cmd("STATUS Big (MESSAGES)"), /MESSAGES 2\)/);
  assert.match(await c.cmd('SETQUOTA "" (STORAGE 99999)'), /^t\d+ NO/m);
  c.close();
});

test("NAMESPACE and ID", async () => {
  const c = await loggedIn();
  assert.match(await c.cmd("NAMESPACE"), /^\* NAMESPACE \(\("" "\/"\)\) NIL NIL\r\n/m);
  assert.match(await c.cmd('ID ("name" "prova")'), /^\* ID \("name" "Domicilio"/m);
  c.close();
});

test("a message delivered through the store reaches a connection in IDLE", async () => {
  const c = await loggedIn();
  await c.cmd("CREATE Consegna");
  await c.cmd("SELECT Consegna");
  c.write("idle IDLE\r\n");
  await c.until((s) => s.includes("+ idling"));
  c.take();
  const folder = (await t.temp.store.getFolder(t.mailboxId, "Consegna"))!;
  await t.temp.store.appendMessages(t.mailboxId, folder.id, [
    { bytes: Buffer.from("Subject: consegnato\r\n\r\nx\r\n") },
  ]);
  assert.match(await c.until((s) => s.includes("EXISTS")), /^\* 1 EXISTS\r\n/m);
  c.write("DONE\r\n");
  assert.match(await c.until((s) => /^idle OK/m.test(s)), /^idle OK IDLE terminated/m);
  c.close();
});

test("deleting the folder another connection has selected in IDLE ends that connection with BYE", async () => {
  const a = await loggedIn();
  const b = await loggedIn();
  await a.cmd("CREATE Sparisce");
  await append(a, "Sparisce", "x");
  await a.cmd("SELECT Sparisce");
  a.write("idle IDLE\r\n");
  await a.until((s) => s.includes("+ idling"));
  assert.match(await b.cmd("DELETE Sparisce"), /^t\d+ OK/m);
  assert.match(await a.until(() => a.closed), /^\* BYE /m);
  b.close();
});

test("CONDSTORE: STORE UNCHANGEDSINCE changes only what did not move and names the rest in [MODIFIED]", async () => {
  const a = await loggedIn();
  await a.cmd("CREATE Cs");
  await append(a, "Cs", "uno");
  await append(a, "Cs", "due");
  const sel = await a.cmd("SELECT Cs (CONDSTORE)");
  const modseq = Number(/HIGHESTMODSEQ (\d+)/.exec(sel)![1]);
  const b = await loggedIn();
  await b.cmd("SELECT Cs");
  await b.cmd("STORE 2 +FLAGS (\\Answered)");
  const res = await a.cmd(`STORE 1:2 (UNCHANGEDSINCE ${modseq}) +FLAGS (\\Flagged)`);
  assert.match(res, /^\* 1 FETCH \(FLAGS \(\\Flagged \\Recent\) MODSEQ \(\d+\)\)\r\n/m);
  assert.match(res, /^t\d+ OK \[MODIFIED 2\]/m);
  assert.match(await a.cmd("FETCH 2 (FLAGS)"), /^\* 2 FETCH \(FLAGS \(\\Answered \\Recent\)\)/m);
  a.close();
  b.close();
});

test("LSUB lists subscribed folders; APPEND takes a literal8 with NUL bytes and keeps them", async () => {
  const c = await loggedIn();
  await c.cmd("CREATE Iscritta");
  await c.cmd("SUBSCRIBE Iscritta");
  await c.cmd("CREATE NonIscritta");
  const lsub = await c.cmd('LSUB "" "*"');
  assert.match(lsub, /^\* LSUB \(\) "\/" Iscritta\r\n/m);
  assert.doesNotMatch(lsub, /NonIscritta/);
  const msg = Buffer.concat([
    Buffer.from("Subject: bin\r\n\r\n"),
    Buffer.from([0, 1, 2, 0xff]),
    Buffer.from("\r\n"),
  ]);
  const res = await c.cmd(Buffer.concat([Buffer.from(`APPEND Iscritta ~{${msg.length}+}\r\n`), msg]));
  assert.match(res, /^t\d+ OK \[APPENDUID/m);
  await c.cmd("SELECT Iscritta");
  const got = await c.cmd("FETCH 1 BODY.PEEK[]");
  assert.ok(got.includes(`{${msg.length}}\r\n${msg.toString("latin1")})`));
  c.close();
});

test("\\Recent belongs to the first session that sees a new message (RFC 3501 §2.3.2)", async () => {
  const a = await loggedIn();
  await a.cmd("CREATE Recenti");
  await append(a, "Recenti", "nuovo");
  assert.match(await a.cmd("STATUS Recenti (RECENT MESSAGES)"), /RECENT 1 MESSAGES 1/);
  const b = await loggedIn();
  const sel = await b.cmd("SELECT Recenti");
  assert.match(sel, /^\* 1 RECENT\r\n/m);
  assert.match(await b.cmd("FETCH 1 FLAGS"), /FLAGS \(\\Recent\)/);
  assert.match(await b.cmd("SEARCH RECENT"), /^\* SEARCH 1\r\n/m);
  const c = await loggedIn();
  assert.match(await c.cmd("SELECT Recenti"), /^\* 0 RECENT\r\n/m);
  // A message arriving while both have the folder open is \Recent for one of them only.
  await append(a, "Recenti", "secondo");
  const nb = await b.cmd("NOOP");
  const nc = await c.cmd("NOOP");
  // b looked first, so it claims the new one; c only learns that it exists.
  assert.match(nb, /^\* 2 EXISTS\r\n\* 2 RECENT\r\n/m);
  assert.match(nc, /^\* 2 EXISTS\r\n\* 0 RECENT\r\n/m);
  a.close();
  b.close();
  c.close();
});
