// A recipient the destination server defers at RCPT (452 4.5.3, "send the rest later", RFC 5321
// §4.5.3.1.10) is sent again later in a transaction of its own; a recipient it refuses for good (550)
// gets its avviso di mancata consegna; neither holds back the recipients it took. The destination is a
// real SMTP server on loopback; the PEC service runs in-process on a real data folder with a clock the
// test moves forward past the backoff.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { SMTPServer } from "smtp-server";
import { loadConfig } from "../../src/config/load.js";
import { readPec } from "../../src/pec/reader.js";
import { openStore } from "../../src/store/open.js";
import { PecService } from "../../src/transport/service.js";
import { runCli } from "../helpers/cli.js";
import { freePort, waitFor } from "../helpers/pec-service.js";

const root = mkdtempSync(join(tmpdir(), "domicilio-deferral-"));
after(() => rmSync(root, { recursive: true, force: true }));

const DOMAIN = "pec.partenza.it";
const SENDER = `mittente@${DOMAIN}`;
const REMOTE = "pec.arrivo.it";

function cli(args: string[]): void {
  const r = runCli(args);
  assert.equal(r.status, 0, `domicilio ${args.join(" ")}: ${r.stderr}`);
}

/** The other server: takes `uno`, refuses `nessuno` for good, defers `due` the first time it is asked. */
async function startRemote() {
  const got: { to: string[] }[] = [];
  const deferredOnce = new Set<string>();
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ["STARTTLS", "AUTH"],
    logger: false,
    onRcptTo(address, _session, cb) {
      const a = address.address.toLowerCase();
      if (a.startsWith("nessuno@"))
        return cb(Object.assign(new Error("No such user"), { responseCode: 550 }));
      if (a.startsWith("due@") && !deferredOnce.has(a)) {
        deferredOnce.add(a);
        return cb(Object.assign(new Error("Too many recipients"), { responseCode: 452 }));
      }
      cb();
    },
    onData(stream, session, cb) {
      stream.resume();
      stream.on("end", () => {
        got.push({ to: session.envelope.rcptTo.map((r) => r.address.toLowerCase()) });
        cb();
      });
    },
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", () => resolve()));
  return { port, got, close: () => new Promise<void>((r) => server.close(() => r())) };
}

test("a recipient deferred at RCPT is sent again later on its own; one refused for good gets its notice; the others are not held back", async () => {
  const remote = await startRemote();
  const dir = join(root, "provider");
  cli(["init", "--data", dir, "--domain", DOMAIN, "--provider-name", "Partenza PEC"]);
  cli(["mailbox", "add", SENDER, "--data", dir, "--password", "Segreto-2024", "--active"]);
  const loaded = loadConfig(dir, {});
  const store = await openStore({ dataDir: dir, config: loaded.config });
  let offset = 0;
  const service = await PecService.create(loaded, store, {
    scanner: null,
    env: { DOMICILIO_ROUTES: `${REMOTE}=127.0.0.1:${remote.port}` },
    clock: () => new Date(Date.now() + offset),
    warn: () => undefined,
  });
  await service.start();
  try {
    const to = ["uno", "due", "nessuno"].map((l) => `${l}@${REMOTE}`);
    const raw = Buffer.from(
      [
        `From: ${SENDER}`,
        `To: ${to.join(", ")}`,
        "Subject: Rinvio",
        "Message-ID: <rinvio@client.example>",
        "Date: Wed, 02 Dec 2026 10:00:00 +0100",
        "",
        "Testo.",
        "",
      ].join("\r\n"),
    );
    await service.submissionHandlers().data(raw, {
      mailFrom: SENDER,
      rcptTo: to,
      user: SENDER,
      remoteAddress: "127.0.0.1",
    });
    await waitFor("the first delivery, to the recipient taken", async () => remote.got.length >= 1);
    assert.deepEqual(remote.got[0]!.to, [`uno@${REMOTE}`]);
    const box = (await store.getMailbox(SENDER))!;
    const inbox = (await store.getFolder(box.id, "INBOX"))!;
    const notices = async () =>
      (
        await Promise.all(
          (
            await store.listMessages(inbox.id)
          )
            .filter((m) => m.pecType === "errore-consegna")
            .map(async (m) => readPec(await store.blobs.get(m.blobId)).daticert?.consegna),
        )
      ).sort();
    await waitFor("the notice for the recipient refused for good", async () => (await notices()).length >= 1);
    // The deferred recipient waits for its backoff: move the clock past it.
    offset += 60_000;
    await waitFor("the deferred recipient, sent on its own", async () => remote.got.length >= 2);
    assert.deepEqual(remote.got[1]!.to, [`due@${REMOTE}`]);
    await service.worker.stop();
    assert.deepEqual(await notices(), [`nessuno@${REMOTE}`], "only the refused recipient has a notice");
    assert.equal(remote.got.length, 2, "nobody got the envelope twice");
  } finally {
    await service.stop();
    await store.close();
    await remote.close();
  }
});
