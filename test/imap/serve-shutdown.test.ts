// `domicilio serve` prints one line per mail listener (contract.md) and, on SIGTERM, says BYE to IMAP
// clients still connected (even one in IDLE that never answers) and exits 0.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { runCli, serve } from "../helpers/cli.js";
import { RawImap } from "../helpers/imap-raw.js";

test("serve prints imap, imaps, pop3 and pop3s, and SIGTERM ends IDLE sessions with BYE and exit 0", {
  timeout: 60_000,
}, async () => {
  const dir = mkdtempSync(join(tmpdir(), "domicilio-imap-serve-"));
  try {
    assert.equal(
      runCli(["init", "--data", dir, "--domain", "pec.example.it", "--provider-name", "Prova"]).status,
      0,
    );
    const add = runCli([
      "mailbox",
      "add",
      "a@pec.example.it",
      "--data",
      dir,
      "--password",
      "Password-lunga-2026",
      "--active",
    ]);
    assert.equal(add.status, 0, add.stderr);
    const served = await serve(dir, {}, ["imap", "imaps", "pop3", "pop3s"]);
    for (const p of ["imap", "imaps", "pop3", "pop3s"]) {
      assert.equal(served.listening.get(p)?.host, "127.0.0.1", `${p} listens on DOMICILIO_BIND`);
    }
    const imaps = await RawImap.open(served.listening.get("imaps")!.port, true);
    assert.match(await imaps.cmd('LOGIN a@pec.example.it "Password-lunga-2026"'), /^t\d+ OK/m);
    await imaps.cmd("SELECT INBOX");
    imaps.write("i IDLE\r\n");
    await imaps.until((s) => s.includes("+ idling"));
    const code = await served.stop();
    assert.equal(code, 0, served.output());
    assert.match(await imaps.until(() => imaps.closed), /^\* BYE /m);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
