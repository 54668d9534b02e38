// The pooled random bytes (src/pec/random-pool.ts): each byte handed out once, a copy the pool's refill
// cannot change, any length served.
import assert from "node:assert/strict";
import { test } from "node:test";
import { pooledRandomBytes } from "../../src/pec/random-pool.js";

test("pooled random bytes are never handed out twice and survive the pool's refill", () => {
  const random = pooledRandomBytes();
  const seen = new Set<string>();
  const kept: [Buffer, string][] = [];
  // Past several refills of the 4 KiB pool, with sizes that do not divide it.
  for (let i = 0; i < 3000; i++) {
    const b = random(i % 3 === 0 ? 12 : 8);
    assert.equal(b.length, i % 3 === 0 ? 12 : 8);
    const hex = b.toString("hex");
    assert.ok(!seen.has(hex), `value ${i} repeated`);
    seen.add(hex);
    if (i % 500 === 0) kept.push([b, hex]);
  }
  for (const [b, hex] of kept) assert.equal(b.toString("hex"), hex, "a value kept is not overwritten");
  const big = random(10_000);
  assert.equal(big.length, 10_000);
  assert.ok(big.some((x) => x !== 0));
});
