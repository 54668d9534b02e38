// The PEC service's tables on both backends: jobs are claimed once and finished once (a lost claim rolls
// its effects back), the registro chains and verifies, and retention keeps the chain verifiable.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ensureProviderKeys } from "../../src/pec/provider-keys.js";
import { JobLostError } from "../../src/store/transport-store.js";
import { checkpoint, verifyRegistro } from "../../src/transport/registro.js";
import { BACKENDS, createTempStore } from "../helpers/temp-store.js";

for (const backend of BACKENDS) {
  describe(`transport tables on ${backend}`, () => {
    test("a job is claimed by one worker, finished once, and a second finish rolls back its transaction", async () => {
      const t = await createTempStore(backend);
      try {
        const ts = t.store.transport();
        await ts.transaction((trx) =>
          ts.enqueue(
            trx,
            [
              { kind: "x", key: "k1", payload: { n: 1 }, runAt: 100 },
              { kind: "x", key: "k1", payload: { n: 2 }, runAt: 100 },
              { kind: "x", key: "later", payload: {}, runAt: 10_000 },
            ],
            100,
          ),
        );
        const held = new Set<number>();
        const [job, ...rest] = await ts.claim(10, 200, 60_000, held);
        assert.equal(rest.length, 0, "one due job: the duplicate key and the future job are not claimed");
        assert.deepEqual(job!.payload, { n: 1 });
        held.add(job!.id);
        assert.deepEqual(await ts.claim(10, 200, 60_000, held), [], "a held job is not claimed again");
        await ts.transaction(async (trx) => {
          await ts.appendLog(trx, [{ event: "e", outcome: "first" }], 200);
          await ts.complete(trx, job!, 200);
        });
        await assert.rejects(
          ts.transaction(async (trx) => {
            await ts.appendLog(trx, [{ event: "e", outcome: "second" }], 200);
            await ts.complete(trx, job!, 200);
          }),
          JobLostError,
        );
        const outcomes: string[] = [];
        for await (const e of ts.logEntries()) outcomes.push(e.outcome);
        assert.deepEqual(outcomes, ["first"], "the lost finish left nothing behind");
        assert.deepEqual(
          (await ts.counts()).map((c) => `${c.kind}:${c.state}:${c.n}`),
          ["x:done:1", "x:pending:1"],
        );
      } finally {
        await t.close();
      }
    });

    test("the registro verifies, and retention removes old entries up to a signed checkpoint without breaking it", async () => {
      const t = await createTempStore(backend);
      try {
        const ts = t.store.transport();
        const keys = await ensureProviderKeys(t.dataDir, { name: "Registro PEC", domain: "pec.reg.it" });
        const day = 86400_000;
        for (let i = 0; i < 5; i++) {
          await ts.transaction((trx) =>
            ts.appendLog(
              trx,
              [{ event: "accettazione", identificativo: `id${i}`, outcome: "ok", at: i * day }],
              i * day,
            ),
          );
          if (i === 2) assert.equal(await checkpoint(ts, keys, 2 * day + 1, 1), true);
        }
        assert.equal(await checkpoint(ts, keys, 5 * day, 1000, true), true);
        const before = await verifyRegistro(ts);
        assert.deepEqual(before.problems, []);
        assert.equal(before.entries, 5);
        assert.equal(await ts.applyRetention(3 * day, 5 * day), 3);
        const after = await verifyRegistro(ts);
        assert.deepEqual(after.problems, []);
        assert.equal(after.entries, 2);
      } finally {
        await t.close();
      }
    });
  });
}
