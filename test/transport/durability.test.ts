// What must survive a crash or a restart: the 12 h / 24 h timers (kept in the database, driven by the
// clock, fired exactly once across restarts), submissions under load when the process is SIGKILLed
// (every 250 delivered exactly once with its receipts, no refused one delivered), and the registro,
// whose `log verify` notices an edited or removed entry.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import Database from "better-sqlite3";
import nodemailer from "nodemailer";
import { readPec } from "../../src/pec/reader.js";
import { runCli } from "../helpers/cli.js";
import {
  createProvider,
  freePort,
  opensslVerifies,
  PASSWORD,
  readInbox,
  routes,
  startProvider,
  stopProvider,
  trustEachOther,
  waitFor,
  waitForTypes,
} from "../helpers/pec-service.js";

let root: string;
before(() => {
  root = mkdtempSync(join(tmpdir(), "domicilio-durable-"));
});
after(() => rmSync(root, { recursive: true, force: true }));

const HOUR = 3600_000;

function queue(dir: string): { counts: { kind: string; state: string; n: number }[] } {
  const r = runCli(["queue", "--json", "--data", dir]);
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as { counts: { kind: string; state: string; n: number }[] };
}

test("with the other provider unreachable, the preavviso comes after 12 h and the final notice after 24 h, once each, across restarts", {
  timeout: 180_000,
}, async () => {
  const A = await createProvider(root, { name: "Alfa PEC", domain: "pec.alfa.it", boxes: ["mario"] });
  const B = await createProvider(root, { name: "Beta PEC", domain: "pec.beta.it", boxes: [] });
  trustEachOther([A, B]);
  const dead = await freePort(); // nothing listens there: Beta is down for the whole test
  const env = { DOMICILIO_ROUTES: routes({ "pec.beta.it": dead }) };
  await startProvider(A, env);
  const t = nodemailer.createTransport({
    host: "127.0.0.1",
    port: A.port("submission"),
    auth: { user: "mario@pec.alfa.it", pass: PASSWORD },
    tls: { rejectUnauthorized: false },
  });
  await t.sendMail({ from: "mario@pec.alfa.it", to: "anna@pec.beta.it", subject: "Scadenza", text: "x" });
  t.close();
  await waitForTypes(A, "mario", "Scadenza", ["accettazione"]);
  await stopProvider(A);

  await startProvider(A, { ...env, DOMICILIO_CLOCK_OFFSET_MS: String(13 * HOUR) });
  const [pre] = (await waitForTypes(A, "mario", "Scadenza", ["preavviso-errore-consegna"])).filter(
    (m) => m.pecType === "preavviso-errore-consegna",
  );
  assert.ok(opensslVerifies(pre!.raw, A.caPem));
  const pd = readPec(pre!.raw).daticert!;
  assert.equal(pd.tipo, "preavviso-errore-consegna");
  assert.equal(pd.consegna, "anna@pec.beta.it");
  await stopProvider(A);

  await startProvider(A, { ...env, DOMICILIO_CLOCK_OFFSET_MS: String(25 * HOUR) });
  const [fin] = (await waitForTypes(A, "mario", "Scadenza", ["errore-consegna"])).filter(
    (m) => m.pecType === "errore-consegna",
  );
  assert.ok(opensslVerifies(fin!.raw, A.caPem));
  const fd = readPec(fin!.raw).daticert!;
  assert.equal(fd.consegna, "anna@pec.beta.it");
  assert.match(fd.erroreEsteso ?? "", /^4\.4\.7 - Alfa PEC - tempo massimo/);
  await stopProvider(A);

  // Both timers are finished for good: another restart later still finds exactly one of each.
  await startProvider(A, { ...env, DOMICILIO_CLOCK_OFFSET_MS: String(30 * HOUR) });
  const timers = queue(A.dir).counts.filter((c) => c.kind === "timer");
  assert.deepEqual(timers, [{ kind: "timer", state: "done", n: 2 }]);
  const inbox = (await readInbox(A, "mario")).map((m) => m.pecType);
  assert.equal(inbox.filter((x) => x === "preavviso-errore-consegna").length, 1);
  assert.equal(inbox.filter((x) => x === "errore-consegna").length, 1);
  await stopProvider(A);
});

test("SIGKILL during a load of submissions: every message answered 250 is delivered exactly once with its receipts after restart", {
  timeout: 240_000,
}, async () => {
  const P = await createProvider(root, {
    name: "Gamma PEC",
    domain: "pec.gamma.it",
    boxes: ["mittente", "destinatario"],
  });
  await startProvider(P);
  const port = P.port("submission");
  const answered = new Map<string, "ok" | "refused" | "unknown">();
  let ok = 0;
  const killAt = 25;
  let killed = false;
  const sender = async (n: number) => {
    for (let i = 0; i < 40 && !killed; i++) {
      const tag = `Carico-${n}-${i}`;
      const t = nodemailer.createTransport({
        host: "127.0.0.1",
        port,
        auth: { user: "mittente@pec.gamma.it", pass: PASSWORD },
        tls: { rejectUnauthorized: false },
      });
      try {
        // Every fourth message claims another box as its sender: refused at MAIL FROM, it must never arrive.
        const foreign = i % 4 === 3;
        const info = await t.sendMail({
          from: "mittente@pec.gamma.it",
          envelope: {
            from: foreign ? "destinatario@pec.gamma.it" : "mittente@pec.gamma.it",
            to: ["destinatario@pec.gamma.it"],
          },
          to: "destinatario@pec.gamma.it",
          subject: tag,
          text: tag,
        });
        answered.set(tag, /^250 /.test(String(info.response)) ? "ok" : "unknown");
        if (++ok === killAt && !killed) {
          killed = true;
          P.served!.child.kill("SIGKILL");
        }
      } catch (err) {
        const code = (err as { responseCode?: number }).responseCode;
        answered.set(tag, code && code >= 400 ? "refused" : "unknown");
      } finally {
        t.close();
      }
    }
  };
  await Promise.all([1, 2, 3, 4].map(sender));
  assert.ok(killed, "the process was killed under load");
  assert.ok([...answered.values()].includes("refused"), "some submissions were refused");
  await stopProvider(P, "SIGKILL");

  await startProvider(P);
  const accepted = [...answered].filter(([, s]) => s === "ok").map(([t]) => t);
  assert.ok(accepted.length >= killAt);
  await waitFor(
    "every accepted message delivered with its receipts",
    async () => {
      const q = queue(P.dir).counts.filter((c) => c.state === "pending" || c.state === "running");
      const busy = q.some((c) => c.kind !== "timer");
      if (busy) return false;
      const got = (await readInbox(P, "destinatario")).map((m) => m.subject);
      return accepted.every((t) => got.includes(`POSTA CERTIFICATA: ${t}`));
    },
    120_000,
  );
  const inbox = await readInbox(P, "destinatario");
  const sent = await readInbox(P, "mittente");
  const count = (list: typeof inbox, subject: string) => list.filter((m) => m.subject === subject).length;
  for (const [tag, state] of answered) {
    const envelopes = count(inbox, `POSTA CERTIFICATA: ${tag}`);
    const acc = count(sent, `ACCETTAZIONE: ${tag}`);
    const cons = count(sent, `CONSEGNA: ${tag}`);
    if (state === "ok") assert.deepEqual([envelopes, acc, cons], [1, 1, 1], `${tag} answered 250`);
    else if (state === "refused") assert.deepEqual([envelopes, acc, cons], [0, 0, 0], `${tag} refused`);
    else assert.ok(envelopes <= 1 && acc <= 1 && cons <= 1, `${tag} without an answer: at most once`);
  }
  await stopProvider(P);
});

test("log verify passes on an untouched registro and fails when an entry is edited or removed", {
  timeout: 120_000,
}, async () => {
  const P = await createProvider(root, { name: "Delta PEC", domain: "pec.delta.it", boxes: ["uno", "due"] });
  await startProvider(P);
  const t = nodemailer.createTransport({
    host: "127.0.0.1",
    port: P.port("submission"),
    auth: { user: "uno@pec.delta.it", pass: PASSWORD },
    tls: { rejectUnauthorized: false },
  });
  for (const s of ["Primo", "Secondo"])
    await t.sendMail({ from: "uno@pec.delta.it", to: "due@pec.delta.it", subject: s, text: s });
  t.close();
  await waitForTypes(P, "uno", "Secondo", ["accettazione", "avvenuta-consegna"]);
  await waitForTypes(P, "uno", "Primo", ["accettazione", "avvenuta-consegna"]);
  await stopProvider(P); // signs a checkpoint of the head

  const verify = () => runCli(["log", "verify", "--data", P.dir]);
  const clean = verify();
  assert.equal(clean.status, 0, clean.stdout + clean.stderr);
  assert.match(clean.stdout, /registro intact: \d+ entries, \d+ signed checkpoints/);
  const extract = runCli(["log", "export", "--box", "due@pec.delta.it", "--data", P.dir])
    .stdout.trim()
    .split("\n");
  assert.ok(extract.some((l) => JSON.parse(l).event === "consegna"));
  assert.ok(extract.every((l) => !l.includes("Secondo\\n") && !("text" in JSON.parse(l))));

  const db = new Database(join(P.dir, "domicilio.sqlite"));
  try {
    const row = db.prepare("select outcome from pec_log where seq = 2").get() as { outcome: string };
    db.prepare("update pec_log set outcome = 'rifiutato' where seq = 2").run();
    const edited = verify();
    assert.equal(edited.status, 1);
    assert.match(edited.stdout, /entry 2: content does not match its hash \(edited\)/);
    db.prepare("update pec_log set outcome = ? where seq = 2").run(row.outcome);
    assert.equal(verify().status, 0);

    db.prepare("delete from pec_log where seq = 3").run();
    const removed = verify();
    assert.equal(removed.status, 1);
    assert.match(removed.stdout, /entries 3\.\.3 are missing/);

    // Removing the tail and rewinding the head is caught by the signed checkpoint.
    const last = db.prepare("select max(seq) as m from pec_log").get() as { m: number };
    const prev = db.prepare("select seq, hash from pec_log where seq = ?").get(last.m - 1) as {
      seq: number;
      hash: string;
    };
    db.prepare("delete from pec_log where seq = ?").run(last.m);
    db.prepare("update pec_log_head set seq = ?, hash = ?").run(prev.seq, prev.hash);
    const tail = verify();
    assert.equal(tail.status, 1);
    assert.match(tail.stdout, /checkpoint \d+ is beyond the last entry/);
  } finally {
    db.close();
  }
});
