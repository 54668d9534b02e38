// The access point in the SMTP session (access-point.ts acceptNow, service.ts): a submission that passes
// the checks is accepted before its 250, with no job; when the store fails before that commit the
// submission takes the queued path and is still delivered once; when it fails after the commit (the
// commit written, its fsync failed) the session hears an error and nothing is queued a second time.
// A real data folder, store, provider keys and queue worker; the store's failure is injected once.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { loadConfig } from "../../src/config/load.js";
import { openStore } from "../../src/store/open.js";
import type { SqlMailStore } from "../../src/store/sql-mail-store.js";
import { PecService } from "../../src/transport/service.js";
import { runCli } from "../helpers/cli.js";
import { waitFor } from "../helpers/pec-service.js";

const root = mkdtempSync(join(tmpdir(), "domicilio-accept-now-"));
after(() => rmSync(root, { recursive: true, force: true }));

const DOMAIN = "pec.subito.it";
const SENDER = `mittente@${DOMAIN}`;
const RCPT = `destinatario@${DOMAIN}`;

function message(subject: string): Buffer {
  return Buffer.from(
    [
      `From: ${SENDER}`,
      `To: ${RCPT}`,
      `Subject: ${subject}`,
      `Message-ID: <${subject}@client.example>`,
      "Date: Wed, 02 Dec 2026 10:00:00 +0100",
      "MIME-Version: 1.0",
      "Content-Type: text/plain; charset=utf-8",
      "",
      `Testo di ${subject}.`,
      "",
    ].join("\r\n"),
  );
}

function cli(args: string[]): void {
  const r = runCli(args);
  assert.equal(r.status, 0, `domicilio ${args.join(" ")}: ${r.stderr}`);
}

async function subjects(store: SqlMailStore, address: string): Promise<string[]> {
  const box = (await store.getMailbox(address))!;
  const inbox = (await store.getFolder(box.id, "INBOX"))!;
  return (await store.listMessages(inbox.id)).map((m) => m.subject ?? "");
}

async function withService(
  name: string,
  fn: (s: { service: PecService; store: SqlMailStore; jobs: () => Promise<string[]> }) => Promise<void>,
) {
  const dir = join(root, name);
  cli(["init", "--data", dir, "--domain", DOMAIN, "--provider-name", "Subito PEC"]);
  for (const a of [SENDER, RCPT])
    cli(["mailbox", "add", a, "--data", dir, "--password", "Segreto-2024", "--active"]);
  const loaded = loadConfig(dir, {});
  const store = await openStore({ dataDir: dir, config: loaded.config });
  const service = await PecService.create(loaded, store, { scanner: null, env: {}, warn: () => undefined });
  await service.start();
  const jobs = async () =>
    (await store.transport().counts()).map((c) => `${c.kind}:${c.state}:${c.n}`).sort();
  try {
    await fn({ service, store, jobs });
  } finally {
    await service.stop();
    await store.close();
  }
}

/** The store's next append fails once, before its commit or after it (fault injection). */
function failNextAppend(store: SqlMailStore, when: "before" | "after", message: string): void {
  const real = store.appendToMany.bind(store);
  let failures = 0;
  store.appendToMany = async (...args) => {
    if (when === "before" && failures++ === 0) throw new Error(message);
    const out = await real(...args);
    if (when === "after" && failures++ === 0) throw new Error(message);
    return out;
  };
}

const envelope = { mailFrom: SENDER, rcptTo: [RCPT], user: SENDER, remoteAddress: "127.0.0.1" };

test("a submission is accepted in the session: acceptance, envelope and delivery receipt, and no job", async () => {
  await withService("direct", async ({ service, store, jobs }) => {
    const reply = await service.submissionHandlers().data(message("Diretto"), envelope);
    assert.match(reply, /^Ok: accepted as domicilio\./);
    // All in the commit before the answer: nothing to wait for.
    assert.deepEqual(await subjects(store, RCPT), ["POSTA CERTIFICATA: Diretto"]);
    assert.deepEqual(await subjects(store, SENDER), ["ACCETTAZIONE: Diretto", "CONSEGNA: Diretto"]);
    assert.deepEqual(await jobs(), [], "no job was needed");
  });
});

test("a store failure before the commit sends the submission to the queue, which delivers it once", async () => {
  await withService("before-commit", async ({ service, store, jobs }) => {
    failNextAppend(store, "before", "disk I/O error (injected)");
    const reply = await service.submissionHandlers().data(message("Coda"), envelope);
    assert.match(reply, /^Ok: queued as domicilio\./);
    await waitFor("the queued submission is processed", async () => (await jobs()).includes("submit:done:1"));
    assert.deepEqual(await subjects(store, RCPT), ["POSTA CERTIFICATA: Coda"]);
    assert.deepEqual(await subjects(store, SENDER), ["ACCETTAZIONE: Coda", "CONSEGNA: Coda"]);
  });
});

test("a failure after the commit is answered with an error and queues nothing: the message is there once", async () => {
  await withService("after-commit", async ({ service, store, jobs }) => {
    failNextAppend(store, "after", "fsync failed (injected)");
    await assert.rejects(
      service.submissionHandlers().data(message("Dopo"), envelope),
      /fsync failed \(injected\)/,
    );
    // Give a wrongly queued copy the chance to run before counting.
    await service.worker.stop();
    assert.deepEqual(await jobs(), []);
    assert.deepEqual(await subjects(store, RCPT), ["POSTA CERTIFICATA: Dopo"]);
    assert.deepEqual(await subjects(store, SENDER), ["ACCETTAZIONE: Dopo", "CONSEGNA: Dopo"]);
  });
});

test("a commit whose outcome the session could not learn is not accepted twice by the queued job", async () => {
  await withService("uncertain-commit", async ({ service, store, jobs }) => {
    failNextAppend(store, "after", "connection lost during COMMIT (injected)");
    // The session's check does not see the commit yet (a PostgreSQL connection lost mid-COMMIT).
    const ts = service.svc.ts;
    const realGet = ts.getTransaction.bind(ts);
    let lookups = 0;
    ts.getTransaction = async (id) => (lookups++ === 0 ? null : realGet(id));
    const reply = await service.submissionHandlers().data(message("Incerto"), envelope);
    assert.match(reply, /^Ok: queued as domicilio\./);
    await waitFor("the queued submission is finished", async () => (await jobs()).includes("submit:done:1"));
    assert.deepEqual(await subjects(store, RCPT), ["POSTA CERTIFICATA: Incerto"]);
    assert.deepEqual(await subjects(store, SENDER), ["ACCETTAZIONE: Incerto", "CONSEGNA: Incerto"]);
  });
});
