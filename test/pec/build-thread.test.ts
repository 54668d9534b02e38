// Provider messages built and signed on the build thread (src/pec/build-thread.ts): each request comes
// back with its own messages, signed by the provider's key, dated at the request's time, with the
// sha-256 of their bytes; a request that cannot be built fails alone; and a thread that is gone leaves
// the messages to the calling thread.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { after, before, test } from "node:test";
import type { Worker } from "node:worker_threads";
import type { BuildJob } from "../../src/pec/build-jobs.js";
import { BuildThread } from "../../src/pec/build-thread.js";
import { openTransaction, type Transaction } from "../../src/pec/builders.js";
import { readPec } from "../../src/pec/reader.js";
import { originalMessage, type TestProvider, testProvider } from "./pec-helpers.js";

let alfa: TestProvider;
before(async () => {
  alfa = await testProvider("Alfa PEC S.p.A.", "pec.alfa.it", new Date("2026-11-20T09:00:00Z"));
});
after(() => alfa.cleanup());

function submission(subject: string): { tx: Transaction; enclosed: Buffer } {
  const { transaction, enclosed } = openTransaction(alfa.ctx, originalMessage({ subject }));
  return { tx: transaction, enclosed };
}

function jobsFor(s: { tx: Transaction; enclosed: Buffer }): BuildJob[] {
  return [
    { kind: "accettazione", tx: s.tx },
    { kind: "busta-trasporto", tx: s.tx, enclosed: s.enclosed },
    { kind: "avvenuta-consegna", tx: s.tx, consegna: "anna.neri@pec.beta.it", enclosed: s.enclosed },
  ];
}

test("requests made together come back each with its own messages, signed and dated as asked", async () => {
  const thread = new BuildThread(alfa.ctx);
  try {
    const at = new Date("2026-11-20T09:30:15Z");
    const subs = Array.from({ length: 12 }, (_, i) => submission(`Pratica ${i}`));
    // All asked for in one tick: the first goes alone, the rest travel together while it is built.
    const results = await Promise.all(subs.map((s) => thread.build(at, jobsFor(s))));
    assert.equal(thread.degraded, false);
    results.forEach((built, i) => {
      assert.deepEqual(
        built.map((b) => b.type),
        ["accettazione", "posta-certificata", "avvenuta-consegna"],
      );
      for (const b of built) {
        assert.ok(Buffer.isBuffer(b.raw), "bytes come back as a Buffer");
        // The store names the blob by this hash without hashing again: it must be the bytes' own.
        assert.equal(b.sha256, createHash("sha256").update(b.raw).digest("hex"));
        const r = readPec(b.raw, { trust: alfa.trust });
        assert.equal(r.signature.intact, true, `${b.type} ${i}: ${r.signature.reason}`);
        assert.equal(r.signature.trusted, true, `${b.type} ${i}: ${r.signature.reason}`);
        assert.equal(r.correlation.identificativo, subs[i]!.tx.identificativo);
        assert.match(r.subject ?? "", new RegExp(`Pratica ${i}$`));
        // The daticert's time is the request's, in Rome (UTC+1 in November).
        assert.deepEqual(r.daticert?.data, { zona: "+0100", giorno: "20/11/2026", ora: "10:30:15" });
      }
      const receipt = readPec(built[2]!.raw);
      assert.equal(receipt.daticert?.consegna, "anna.neri@pec.beta.it");
      assert.ok(receipt.original, "a complete receipt encloses the original");
    });
  } finally {
    await thread.close();
  }
});

test("a request that cannot be built fails alone; its neighbours are built", async () => {
  const thread = new BuildThread(alfa.ctx);
  try {
    const at = new Date("2026-11-20T09:30:15Z");
    const good = submission("Buona");
    // A transaction without its recipients cannot be written about.
    const bad = { ...good.tx, destinatari: null } as unknown as Transaction;
    const results = await Promise.allSettled([
      thread.build(at, jobsFor(good)),
      thread.build(at, [{ kind: "accettazione", tx: bad }]),
      thread.build(at, jobsFor(submission("Anche buona"))),
    ]);
    assert.deepEqual(
      results.map((r) => r.status),
      ["fulfilled", "rejected", "fulfilled"],
    );
    const reason = (results[1] as PromiseRejectedResult).reason as Error;
    assert.equal(reason.name, "TypeError", "the thread's error comes back with its name");
  } finally {
    await thread.close();
  }
});

test("messages still in flight when the thread is closed are built on the calling thread, and later ones too", {
  timeout: 60_000,
}, async () => {
  const warnings: string[] = [];
  const thread = new BuildThread(alfa.ctx, (m) => warnings.push(m));
  const at = new Date("2026-11-20T09:30:15Z");
  // Started, then ended while requests are in flight and more wait behind them; one of them cannot be
  // built, and fails alone on the calling thread too.
  await thread.build(at, jobsFor(submission("Prima")));
  const bad = { ...submission("Rotta").tx, destinatari: null } as unknown as Transaction;
  const inFlight = [
    ...Array.from({ length: 3 }, (_, i) => thread.build(at, jobsFor(submission(`In volo ${i}`)))),
    thread.build(at, [{ kind: "accettazione", tx: bad }]),
    ...Array.from({ length: 3 }, (_, i) => thread.build(at, jobsFor(submission(`In coda ${i}`)))),
  ];
  await thread.close();
  const settled = await Promise.allSettled([...inFlight, thread.build(at, jobsFor(submission("Dopo")))]);
  assert.deepEqual(
    settled.map((r) => r.status),
    ["fulfilled", "fulfilled", "fulfilled", "rejected", "fulfilled", "fulfilled", "fulfilled", "fulfilled"],
  );
  assert.equal(thread.degraded, true);
  for (const r of settled)
    if (r.status === "fulfilled")
      for (const b of r.value) {
        const read = readPec(b.raw, { trust: alfa.trust });
        assert.equal(read.signature.trusted, true, read.signature.reason ?? "");
      }
  assert.deepEqual(warnings, [], "closing is not a failure");
});

test("a thread that dies is replaced, its requests built meanwhile on the calling thread; one that keeps dying is given up", {
  timeout: 60_000,
}, async () => {
  const warnings: string[] = [];
  const thread = new BuildThread(alfa.ctx, (m) => warnings.push(m));
  // The thread as the class holds it: killing it from outside stands for a crash (out of memory, a bug).
  const worker = () => (thread as unknown as { worker: Worker | null }).worker;
  const at = new Date("2026-11-20T09:30:15Z");
  try {
    for (let death = 1; death <= 4; death++) {
      await thread.build(at, jobsFor(submission(`Prima ${death}`)));
      const w = worker();
      assert.ok(w, `a thread is running before death ${death}`);
      const pending = Array.from({ length: 4 }, (_, i) => thread.build(at, jobsFor(submission(`Volo ${i}`))));
      await w.terminate();
      for (const built of await Promise.all(pending))
        for (const b of built) assert.equal(readPec(b.raw, { trust: alfa.trust }).signature.trusted, true);
      assert.equal(thread.degraded, death > 3, `after death ${death}`);
    }
    assert.equal(warnings.length, 4);
    assert.match(warnings[0]!, /a new thread starts/);
    assert.match(warnings[3]!, /from now on/);
    // Given up: built here, still signed.
    const [acc] = await thread.build(at, jobsFor(submission("Dopo")));
    assert.equal(readPec(acc!.raw, { trust: alfa.trust }).signature.trusted, true);
    assert.equal(worker(), null);
  } finally {
    await thread.close();
  }
});
