// One copy at a time into a box: a second run is refused while the first is alive, and a lock left by a
// killed run is taken over.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import SqliteDatabase from "better-sqlite3";
import { MigrationError } from "../../src/migration/errors.js";
import { Ledger } from "../../src/migration/ledger.js";

test("a second copy into the same box is refused while the first runs, and allowed once it released", async () => {
  const dir = mkdtempSync(join(tmpdir(), "domicilio-lock-"));
  const scope = { source: "old@imaps.example.it:993", target: "store:anna@pec.example.it" };
  const first = await Ledger.openFile(join(dir, "ledger.sqlite"), scope);
  const second = await Ledger.openFile(join(dir, "ledger.sqlite"), scope);
  try {
    const release = await first.lockTarget();
    await assert.rejects(
      () => second.lockTarget(),
      (e: unknown) =>
        e instanceof MigrationError &&
        e.code === "ALREADY_RUNNING" &&
        e.exitCode === 7 &&
        /già in corso/.test(e.message),
    );
    // Another box is not blocked.
    const other = await Ledger.openFile(join(dir, "ledger.sqlite"), {
      ...scope,
      target: "store:bruno@pec.example.it",
    });
    await (await other.lockTarget())();
    await other.close();
    await release();
    await (await second.lockTarget())();
  } finally {
    await first.close();
    await second.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a lock held by a process that no longer exists is taken over", async () => {
  const dir = mkdtempSync(join(tmpdir(), "domicilio-lock-"));
  const file = join(dir, "ledger.sqlite");
  const scope = { source: "old@imaps.example.it:993", target: "store:anna@pec.example.it" };
  const ledger = await Ledger.openFile(file, scope);
  try {
    const gone = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], {
      encoding: "utf8",
    });
    const deadPid = Number(gone.stdout);
    const raw = new SqliteDatabase(file);
    raw
      .prepare("INSERT INTO migration_locks (target, host, pid, heartbeat_at) VALUES (?, ?, ?, ?)")
      .run(scope.target, hostname(), deadPid, Date.now());
    raw.close();
    const release = await ledger.lockTarget();
    const holder = new SqliteDatabase(file)
      .prepare("SELECT pid FROM migration_locks WHERE target = ?")
      .get(scope.target) as { pid: number };
    assert.equal(Number(holder.pid), process.pid);
    await release();
  } finally {
    await ledger.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
