// FileSync (src/store/sqlite-driver.ts) answers a durable commit only with an fsync that started after
// the commit's write: an fsync already under way may have missed it. The fsync itself is gated here so the
// test can tell which callers each one answers; the file and its descriptor are real.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { FileSync } from "../../src/store/sqlite-driver.js";

/** Each fsync is counted when it starts and runs only when the test releases it. */
class GatedSync extends FileSync {
  readonly started: (() => void)[] = [];
  protected override async fsyncOnce(): Promise<void> {
    await new Promise<void>((release) => this.started.push(release));
    await super.fsyncOnce();
  }
}

/** Whether `p` has resolved once everything already queued has run (no timing involved). */
const settled = async (p: Promise<unknown>) => {
  let done = false;
  void p.then(() => (done = true));
  await new Promise((r) => setImmediate(r));
  return done;
};

test("a sync asked while an fsync runs waits for the next fsync, which answers every caller that asked meanwhile", async () => {
  const dir = mkdtempSync(join(tmpdir(), "domicilio-filesync-"));
  try {
    const path = join(dir, "f");
    writeFileSync(path, "x");
    const s = new GatedSync(path);
    const first = s.sync();
    assert.equal(s.started.length, 1);
    const second = s.sync();
    const third = s.sync();
    assert.equal(second, third, "callers waiting for the same next fsync share it");
    s.started[0]!();
    await first;
    assert.equal(await settled(second), false, "not answered by the fsync that began before it asked");
    assert.equal(s.started.length, 2, "one more fsync for both waiting callers");
    s.started[1]!();
    await second;
    assert.equal(s.started.length, 2);
    s.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a barrier costs no fsync when nothing was written since the last one began, and one when something was", async () => {
  const dir = mkdtempSync(join(tmpdir(), "domicilio-filesync-"));
  try {
    const path = join(dir, "f");
    writeFileSync(path, "x");
    const s = new GatedSync(path);
    assert.ok(await settled(s.barrier()));
    assert.equal(s.started.length, 0);
    s.written();
    const b = s.barrier();
    assert.equal(s.started.length, 1);
    assert.equal(await settled(b), false);
    s.started[0]!();
    await b;
    assert.ok(await settled(s.barrier()), "nothing written since: no fsync");
    assert.equal(s.started.length, 1);
    s.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
