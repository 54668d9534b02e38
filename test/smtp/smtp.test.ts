// The SMTP side of the PEC service on its own: DOMICILIO_ROUTES parsing, the access point's formal checks
// as a pure table, and the submission and MX listeners of a real `domicilio serve` refusing with the
// right reply and enhanced status codes (RFC 3463) — and the avviso di non accettazione for formal errors.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import nodemailer from "nodemailer";
import { SMTPServer } from "smtp-server";
import { readPec } from "../../src/pec/reader.js";
import { SmtpSender } from "../../src/smtp/client.js";
import { parseRoutes } from "../../src/smtp/routes.js";
import { formalProblem } from "../../src/transport/access-point.js";
import { runCli } from "../helpers/cli.js";
import {
  createProvider,
  freePort,
  opensslVerifies,
  PASSWORD,
  type Provider,
  type Sink,
  startProvider,
  startSink,
  stopProvider,
  waitFor,
  waitForTypes,
  withProviderStore,
} from "../helpers/pec-service.js";

test("DOMICILIO_ROUTES reads domain=host:port lists and refuses anything else", () => {
  const r = parseRoutes(" pec.beta.it=127.0.0.1:2526, Other.it=[::1]:2527 ");
  assert.deepEqual(r.get("pec.beta.it"), { host: "127.0.0.1", port: 2526 });
  assert.deepEqual(r.get("other.it"), { host: "::1", port: 2527 });
  assert.equal(parseRoutes("").size, 0);
  assert.equal(parseRoutes(undefined).size, 0);
  for (const bad of ["pec.beta.it", "pec.beta.it=host", "x=host:99999", "=h:1"])
    assert.throws(() => parseRoutes(bad), /DOMICILIO_ROUTES/);
});

test("outbound destinations come from DOMICILIO_ROUTES first, then from the injected MX lookup by preference", async () => {
  const asked: string[] = [];
  const sender = new SmtpSender({
    routes: parseRoutes("pec.beta.it=127.0.0.1:2526"),
    name: "pec.alfa.it",
    resolveMx: async (d) => {
      asked.push(d);
      return d === "nomx.it"
        ? []
        : [
            { exchange: "mx2.other.it", priority: 20 },
            { exchange: "mx1.other.it", priority: 10 },
          ];
    },
  });
  assert.deepEqual(await sender.destinations("PEC.BETA.IT"), [{ host: "127.0.0.1", port: 2526 }]);
  assert.deepEqual(await sender.destinations("other.it"), [
    { host: "mx1.other.it", port: 25 },
    { host: "mx2.other.it", port: 25 },
  ]);
  // RFC 5321 §5.1: no MX record, the domain itself.
  assert.deepEqual(await sender.destinations("nomx.it"), [{ host: "nomx.it", port: 25 }]);
  assert.deepEqual(asked, ["other.it", "nomx.it"]);
  sender.close();
});

test("the sender reports each recipient the other server refuses at RCPT by its reply: for good (5xx) or for now (4xx)", async () => {
  // A real SMTP server on loopback: `ok` is taken, `no` refused for good, `later` deferred.
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ["STARTTLS", "AUTH"],
    logger: false,
    onRcptTo(address, _session, cb) {
      const local = address.address.split("@")[0];
      if (local === "no") return cb(Object.assign(new Error("No such user"), { responseCode: 550 }));
      if (local === "later")
        return cb(Object.assign(new Error("Too many recipients"), { responseCode: 452 }));
      cb();
    },
    onData(stream, _session, cb) {
      stream.resume();
      stream.on("end", () => cb());
    },
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", () => resolve()));
  const sender = new SmtpSender({ routes: parseRoutes(`arrivo.it=127.0.0.1:${port}`), name: "pec.alfa.it" });
  const raw = Buffer.from("From: a@pec.alfa.it\r\nTo: x@arrivo.it\r\nSubject: s\r\n\r\nTesto.\r\n");
  const send = (to: string[]) =>
    sender.send("arrivo.it", { from: "a@pec.alfa.it", to: to.map((l) => `${l}@arrivo.it`) }, raw);
  try {
    const some = await send(["ok", "no", "later"]);
    assert.equal(some.ok, true);
    assert.deepEqual([some.rejected, some.deferred], [["no@arrivo.it"], ["later@arrivo.it"]]);
    // Nobody taken: still told apart, so a deferral does not hold back a refusal for good, nor the reverse.
    const none = await send(["no", "later"]);
    assert.equal(none.ok, false);
    assert.deepEqual([none.rejected, none.deferred], [["no@arrivo.it"], ["later@arrivo.it"]]);
    const all = await send(["ok"]);
    assert.deepEqual([all.ok, all.rejected, all.deferred], [true, [], []]);
  } finally {
    sender.close();
    await new Promise<void>((r) => server.close(() => r()));
  }
});

test("when the first MX host defers every recipient, the next one is tried (RFC 5321 §5.1)", async () => {
  const got: string[] = [];
  const start = async (answer: (cb: (err?: Error) => void) => void, name: string) => {
    const server = new SMTPServer({
      authOptional: true,
      disabledCommands: ["STARTTLS", "AUTH"],
      logger: false,
      onRcptTo: (_address, _session, cb) => answer(cb),
      onData(stream, _session, cb) {
        stream.resume();
        stream.on("end", () => {
          got.push(name);
          cb();
        });
      },
    });
    const port = await freePort();
    await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", () => resolve()));
    return { port, close: () => new Promise<void>((r) => server.close(() => r())) };
  };
  // The primary's lookup backend is down: 451 for everyone. The backup takes the message.
  const primary = await start(
    (cb) => cb(Object.assign(new Error("Temporary lookup failure"), { responseCode: 451 })),
    "primary",
  );
  const backup = await start((cb) => cb(), "backup");
  // Two MX hosts on ephemeral loopback ports (real MX lookups always mean port 25).
  class TwoHosts extends SmtpSender {
    override async destinations() {
      return [
        { host: "127.0.0.1", port: primary.port },
        { host: "127.0.0.1", port: backup.port },
      ];
    }
  }
  const sender = new TwoHosts({ routes: new Map(), name: "pec.alfa.it" });
  try {
    const r = await sender.send(
      "arrivo.it",
      { from: "a@pec.alfa.it", to: ["x@arrivo.it"] },
      Buffer.from("From: a@pec.alfa.it\r\nTo: x@arrivo.it\r\nSubject: s\r\n\r\nTesto.\r\n"),
    );
    assert.deepEqual([r.ok, r.rejected, r.deferred], [true, [], []]);
    assert.deepEqual(got, ["backup"]);
  } finally {
    sender.close();
    await primary.close();
    await backup.close();
  }
});

describe("the access point's formal checks", () => {
  const msg = (head: string) => Buffer.from(`${head}\r\nSubject: s\r\n\r\nbody\r\n`);
  const ok = { mailFrom: "a@pec.x.it", rcptTo: ["b@pec.y.it"], user: "a@pec.x.it" };
  const table: [string, Buffer, typeof ok, RegExp | null][] = [
    ["a clean message passes", msg("From: A <a@pec.x.it>\r\nTo: b@pec.y.it"), ok, null],
    ["two From addresses", msg("From: a@pec.x.it, c@pec.x.it\r\nTo: b@pec.y.it"), ok, /un solo indirizzo/],
    ["From is another box", msg("From: c@pec.x.it\r\nTo: b@pec.y.it"), ok, /casella autenticata/],
    [
      "reverse-path differs",
      msg("From: a@pec.x.it\r\nTo: b@pec.y.it"),
      { ...ok, mailFrom: "c@pec.x.it" },
      /busta SMTP/,
    ],
    ["no To", msg("From: a@pec.x.it\r\nCc: b@pec.y.it"), ok, /nessun destinatario/],
    ["a Bcc", msg("From: a@pec.x.it\r\nTo: b@pec.y.it\r\nBcc: z@pec.y.it"), ok, /Bcc/],
    [
      "a forward-path outside To and Cc",
      msg("From: a@pec.x.it\r\nTo: b@pec.y.it"),
      { ...ok, rcptTo: ["b@pec.y.it", "z@pec.y.it"] },
      /z@pec\.y\.it/,
    ],
    [
      "Cc recipients count as visible",
      msg("From: a@pec.x.it\r\nTo: b@pec.y.it\r\nCc: z@pec.y.it"),
      { ...ok, rcptTo: ["b@pec.y.it", "z@pec.y.it"] },
      null,
    ],
  ];
  for (const [name, raw, p, expected] of table) {
    test(`${name}: ${expected ? "refused" : "accepted"}`, () => {
      const r = formalProblem(raw, p, 1_000_000);
      if (expected) assert.match(r ?? "", expected);
      else assert.equal(r, null);
    });
  }
  test("size times recipients over the limit is refused", () => {
    const raw = msg("From: a@pec.x.it\r\nTo: b@pec.y.it, c@pec.y.it");
    assert.equal(formalProblem(raw, { ...ok, rcptTo: ["b@pec.y.it", "c@pec.y.it"] }, raw.length * 2), null);
    assert.match(
      formalProblem(raw, { ...ok, rcptTo: ["b@pec.y.it", "c@pec.y.it"] }, raw.length * 2 - 1) ?? "",
      /limite/,
    );
  });
});

describe("listeners of a running provider", { timeout: 120_000 }, () => {
  let root: string;
  let P: Provider;
  let relay: Sink;
  before(async () => {
    root = mkdtempSync(join(tmpdir(), "domicilio-smtp-"));
    relay = await startSink();
    P = await createProvider(root, {
      name: "Zeta PEC",
      domain: "pec.zeta.it",
      boxes: ["uno", "due", "tre"],
      toml: `[notify]\nrelay = "127.0.0.1:${relay.port}"\nintervalMinutes = 60`,
    });
    await withProviderStore(P, async (s) => {
      const tre = await s.getMailbox("tre@pec.zeta.it");
      await s.updateSettings(tre!.id, { notifyTo: "tre.privato@ordinaria.it" });
    });
    await startProvider(P);
  });
  after(async () => {
    await stopProvider(P);
    await relay.close();
    rmSync(root, { recursive: true, force: true });
  });

  test("new messages are notified to the member's ordinary address, sender and subject only, at most once per interval", async () => {
    const t = nodemailer.createTransport({
      host: "127.0.0.1",
      port: P.port("submission"),
      auth: { user: "uno@pec.zeta.it", pass: PASSWORD },
      tls: { rejectUnauthorized: false },
    });
    for (const s of ["Avviso uno", "Avviso due"])
      await t.sendMail({
        from: "uno@pec.zeta.it",
        to: "tre@pec.zeta.it",
        subject: s,
        text: "Contenuto riservato.",
      });
    t.close();
    await waitForTypes(P, "tre", "Avviso due", ["posta-certificata"]);
    await waitForTypes(P, "tre", "Avviso uno", ["posta-certificata"]);
    await waitFor("the queue to be idle", async () => {
      const q = JSON.parse(runCli(["queue", "--json", "--data", P.dir]).stdout) as {
        counts: { kind: string; state: string }[];
      };
      return !q.counts.some((c) => c.kind !== "timer" && (c.state === "pending" || c.state === "running"));
    });
    const notes = relay.messages.filter((m) => m.to.includes("tre.privato@ordinaria.it"));
    assert.equal(notes.length, 1);
    const text = notes[0]!.raw.toString("utf8");
    assert.match(text, /uno@pec\.zeta\.it/);
    assert.match(text, /Avviso (uno|due)/);
    assert.doesNotMatch(text, /Contenuto riservato/);
  });

  /** A raw SMTP conversation: sends each line after the previous reply, returns every reply. */
  async function converse(port: number, lines: string[]): Promise<string[]> {
    const sock = connect(port, "127.0.0.1");
    const replies: string[] = [];
    let buf = "";
    const next = () =>
      new Promise<string>((resolve) => {
        const tryTake = () => {
          const m = /^(\d{3}) [^\r\n]*\r\n/m.exec(buf);
          if (!m) return false;
          const end = buf.indexOf(m[0]) + m[0].length;
          const reply = buf.slice(0, end);
          buf = buf.slice(end);
          resolve(reply.trim().split("\r\n").at(-1)!);
          return true;
        };
        if (tryTake()) return;
        const on = (d: Buffer) => {
          buf += d.toString();
          if (tryTake()) sock.off("data", on);
        };
        sock.on("data", on);
      });
    replies.push(await next());
    for (const l of lines) {
      sock.write(`${l}\r\n`);
      replies.push(await next());
    }
    sock.destroy();
    return replies;
  }

  test("submission refuses mail before AUTH, a wrong password and a foreign sender, with enhanced codes", async () => {
    const port = P.port("submission");
    const anon = await converse(port, ["EHLO client", "MAIL FROM:<uno@pec.zeta.it>"]);
    assert.match(anon[2]!, /^530 5\.7\.0 /);
    const auth = (u: string, p: string) => Buffer.from(`\0${u}\0${p}`).toString("base64");
    const bad = await converse(port, ["EHLO client", `AUTH PLAIN ${auth("uno@pec.zeta.it", "sbagliata")}`]);
    assert.match(bad[2]!, /^535 5\.7\.8 /);
    const badAuth = `AUTH PLAIN ${auth("uno@pec.zeta.it", "sbagliata")}`;
    const guessing = await converse(port, ["EHLO client", badAuth, badAuth, badAuth]);
    assert.match(guessing[3]!, /^535 5\.7\.8 /);
    assert.match(guessing[4]!, /^421 4\.7\.0 Too many authentication failures$/);
    const foreign = await converse(port, [
      "EHLO client",
      `AUTH PLAIN ${auth("uno@pec.zeta.it", PASSWORD)}`,
      "MAIL FROM:<due@pec.zeta.it>",
    ]);
    assert.match(foreign[2]!, /^235 /);
    assert.match(foreign[3]!, /^553 5\.7\.1 Sender address does not belong to the authenticated box$/);
  });

  test("the MX refuses relaying and says 250 only for the domains it hosts", async () => {
    const r = await converse(P.smtpPort, [
      "EHLO mx.example",
      "MAIL FROM:<x@example.org>",
      "RCPT TO:<y@example.org>",
      "RCPT TO:<uno@pec.zeta.it>",
    ]);
    assert.match(r[3]!, /^554 5\.7\.1 Relay access denied$/);
    assert.match(r[4]!, /^250 /);
  });

  test("a Bcc in the submitted message gives an avviso di non accettazione and nothing travels", async () => {
    const t = nodemailer.createTransport({
      host: "127.0.0.1",
      port: P.port("submission"),
      auth: { user: "uno@pec.zeta.it", pass: PASSWORD },
      tls: { rejectUnauthorized: false },
    });
    // nodemailer drops Bcc from the header; a mail program that keeps it sends the raw message.
    await t.sendMail({
      envelope: { from: "uno@pec.zeta.it", to: ["due@pec.zeta.it"] },
      raw: "From: uno@pec.zeta.it\r\nTo: due@pec.zeta.it\r\nBcc: due@pec.zeta.it\r\nSubject: Nascosto\r\nMessage-ID: <bcc@x>\r\n\r\nx\r\n",
    });
    t.close();
    const [na] = (await waitForTypes(P, "uno", "Nascosto", ["non-accettazione"])).filter(
      (m) => m.pecType === "non-accettazione",
    );
    assert.ok(opensslVerifies(na!.raw, P.caPem));
    const d = readPec(na!.raw).daticert!;
    assert.equal(d.tipo, "non-accettazione");
    assert.equal(d.errore, "altro");
    assert.match(d.erroreEsteso ?? "", /Bcc/);
    assert.match(na!.subject, /^AVVISO DI NON ACCETTAZIONE: Nascosto$/);
    // Nothing travels: the registro, written in the same commit as any delivery, has no envelope for it.
    const log = runCli(["log", "export", "--box", "uno@pec.zeta.it", "--data", P.dir])
      .stdout.trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { event: string; subject: string });
    const about = log.filter((e) => e.subject === "Nascosto").map((e) => e.event);
    assert.deepEqual(about, ["non-accettazione"]);
  });
});
