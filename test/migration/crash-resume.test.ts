// Killing the copy at any moment, then running it again, ends with the source's exact multiset of
// messages in the box: nothing missing, nothing doubled (ledger.ts explains the healing by content).
import assert from "node:assert/strict";
import { test } from "node:test";
import { runMigration } from "../../src/migration/engine.js";
import { Ledger } from "../../src/migration/ledger.js";
import { StoreTarget, type TargetSession } from "../../src/migration/targets.js";
import {
  compareWithTarget,
  createTarget,
  migrate,
  startSource,
  TARGET,
  withStore,
} from "../helpers/migration-env.js";
import { mulberry32 } from "../helpers/prng.js";

/** Deterministic kill moments (mulberry32), so a failure can be replayed. */
function delays(seed: number, n: number, lo: number, hi: number): number[] {
  const random = mulberry32(seed);
  return Array.from({ length: n }, () => Math.round(lo + random() * (hi - lo)));
}

test("SIGKILL at 10 random moments of a copy, then a full run: the box equals the source exactly, no duplicates", async (t) => {
  const src = await startSource({ scale: 0.3, big: 3 });
  const target = createTarget();
  t.after(async () => {
    target.close();
    await src.dc.stop();
  });
  const from = src.dc.url("src");
  const extra = ["--insecure-tls", "--batch", "10", "--progress", "lines"];
  const counts: number[] = [];
  let killed = 0;
  // Kill points: the first two during start-up and planning (a time), the others a few milliseconds
  // after the n-th committed batch, so that kills land inside the copy whatever the machine's speed.
  const seed = Number(process.env.MIGRATION_KILL_SEED ?? 7);
  const times = delays(seed, 10, 150, 900);
  const batches = delays(seed + 1, 10, 1, 6);
  const after = delays(seed + 2, 10, 0, 40);
  for (let i = 0; i < 10; i++) {
    const r = await migrate(
      { dataDir: target.dataDir, from, extra },
      i < 2 ? { killAfterMs: times[i]! } : { killAtProgress: { lines: batches[i]!, thenMs: after[i]! } },
    );
    if (r.signal === "SIGKILL") killed++;
    else assert.equal(r.status, 0, r.stderr);
    counts.push(
      await withStore(target.dataDir, async (store) => {
        const box = (await store.getMailbox(TARGET))!;
        return (await store.listFolders(box.id)).reduce((n, f) => n + f.messages, 0);
      }),
    );
  }
  assert.ok(killed >= 8, `only ${killed} of 10 runs were killed before finishing (counts ${counts})`);
  assert.ok(counts[9]! < src.corpus.messages, "the copy was still unfinished when the last kill came");
  // Never more than the source holds, at any point: a doubled message would show here first.
  for (const c of counts) assert.ok(c <= src.corpus.messages, `box holds ${c} > ${src.corpus.messages}`);

  const final = await migrate({ dataDir: target.dataDir, from, extra });
  assert.equal(final.status, 0, `${final.stderr}\nerror: ${JSON.stringify(final.json?.error)}`);
  assert.equal(final.json.verified, true);
  assert.equal(final.json.totals.sourceMessages, src.corpus.messages);
  for (const f of final.json.folders) assert.equal(f.targetMessages, f.sourceMessages, f.target);
  assert.deepEqual(await compareWithTarget(src, target.dataDir), []);
});

test("a crash between the box's commit and the ledger's leaves messages the next run claims by content, not copies again", async (t) => {
  const src = await startSource({ scale: 0.05, big: 0 });
  const target = createTarget();
  t.after(async () => {
    target.close();
    await src.dc.stop();
  });
  const source = {
    host: src.dc.host,
    port: src.dc.port,
    secure: false,
    user: "src",
    password: src.dc.password,
    insecureTls: true,
  };
  await withStore(target.dataDir, async (store) => {
    // On the store's own connection, as `domicilio migrate` does (see migrate.ts).
    const ledger = await Ledger.open(store.kysely, { source: "src@test", target: `store:${TARGET}` });
    // The third append commits in the box, then the process "dies" before the ledger hears of it.
    const real = new StoreTarget(store, TARGET);
    await real.open();
    let appends = 0;
    const crashing = Object.assign(Object.create(Object.getPrototypeOf(real)), real) as StoreTarget;
    crashing.session = async (): Promise<TargetSession> => {
      const s = await real.session();
      return {
        ...s,
        append: async (name, items) => {
          const res = await s.append(name, items);
          if (++appends === 3) throw new Error("simulated crash after the store's commit");
          return res;
        },
      };
    };
    const first = await runMigration({ source, target: crashing, ledger, connections: 1, batchMessages: 5 });
    assert.equal(first.verified, false);
    assert.match(first.error?.message ?? "", /simulated crash/);
    const copiedBefore = first.totals.copied;
    assert.equal(copiedBefore, 10, "two batches of 5 went through before the crash");

    const second = await runMigration({
      source,
      target: new StoreTarget(store, TARGET),
      ledger,
      connections: 1,
      batchMessages: 5,
    });
    assert.equal(second.verified, true, JSON.stringify(second.error));
    assert.equal(second.totals.alreadyPresent - copiedBefore, 5, "the 5 orphaned messages are claimed");
    assert.equal(second.totals.copied + second.totals.alreadyPresent, src.corpus.messages);
  });
  assert.deepEqual(await compareWithTarget(src, target.dataDir), []);
});
