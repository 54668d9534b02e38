// Signatures made on the pool's worker threads (src/pec/sign-pool.ts): each verifies with its own key
// whatever batch it travelled in, a request that cannot be signed fails alone, and the threads end.
import assert from "node:assert/strict";
import { createPublicKey, generateKeyPairSync, randomBytes, verify } from "node:crypto";
import { test } from "node:test";
import { SignPool } from "../../src/pec/sign-pool.js";

test("signatures asked for together come back each for its own data and key", async () => {
  const a = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const b = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const pool = new SignPool(2);
  try {
    const items = Array.from({ length: 40 }, (_, i) => ({
      data: randomBytes(100 + i),
      pair: i % 3 === 0 ? b : a,
    }));
    // All asked for in one tick: they travel in batches, the first ones alone.
    const signatures = await Promise.all(items.map((it) => pool.sign(it.data, it.pair.privateKey)));
    items.forEach((it, i) => {
      assert.ok(verify("sha256", it.data, it.pair.publicKey, signatures[i]!), `signature ${i} verifies`);
      const other = it.pair === a ? b : a;
      assert.ok(!verify("sha256", it.data, other.publicKey, signatures[i]!), `signature ${i} is its key's`);
    });
  } finally {
    await pool.close();
  }
});

test("a request that cannot be signed fails alone, its neighbours in the same batch are signed", async () => {
  const a = generateKeyPairSync("rsa", { modulusLength: 2048 });
  // One thread with a signature in flight: the three asked for next wait, and travel as one batch.
  const pool = new SignPool(1);
  try {
    const first = pool.sign(randomBytes(100), a.privateKey);
    const results = await Promise.allSettled([
      pool.sign(Buffer.from("uno"), a.privateKey),
      // A public key cannot sign.
      pool.sign(Buffer.from("due"), createPublicKey(a.privateKey)),
      pool.sign(Buffer.from("tre"), a.privateKey),
    ]);
    await first;
    assert.deepEqual(
      results.map((r) => r.status),
      ["fulfilled", "rejected", "fulfilled"],
    );
    const uno = results[0] as PromiseFulfilledResult<Buffer>;
    assert.ok(verify("sha256", Buffer.from("uno"), a.publicKey, uno.value));
  } finally {
    await pool.close();
  }
});
