// The PEC service on PostgreSQL (DOMICILIO_DATABASE_URL): the same `serve`, the queue claimed with leases
// (FOR UPDATE SKIP LOCKED), the registro's head locked per commit. A full local cycle, a restart, and
// `log verify` on the result.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { readPec } from "../../src/pec/reader.js";
import { runCli } from "../helpers/cli.js";
import {
  createProvider,
  opensslVerifies,
  startProvider,
  stopProvider,
  submit,
  waitForTypes,
} from "../helpers/pec-service.js";
import { createTestDatabase } from "../helpers/postgres.js";

test("on PostgreSQL, submissions get their acceptance, envelope and delivery receipt, and the registro verifies", {
  timeout: 180_000,
}, async () => {
  const url = await createTestDatabase();
  const root = mkdtempSync(join(tmpdir(), "domicilio-pg-service-"));
  const saved = process.env.DOMICILIO_DATABASE_URL;
  process.env.DOMICILIO_DATABASE_URL = url; // init, mailbox add and log verify use it too
  try {
    const P = await createProvider(root, { name: "Eta PEC", domain: "pec.eta.it", boxes: ["a", "b"] });
    await startProvider(P, { DOMICILIO_DATABASE_URL: url });
    await Promise.all(
      [1, 2, 3, 4].map((i) => submit(P, "a", { to: P.address("b"), subject: `Pg ${i}`, text: "x" })),
    );
    for (const i of [1, 2, 3, 4]) {
      const got = await waitForTypes(P, "a", `Pg ${i}`, ["accettazione", "avvenuta-consegna"]);
      for (const m of got) {
        assert.ok(opensslVerifies(m.raw, P.caPem));
        assert.equal(readPec(m.raw).daticert?.mittente, "a@pec.eta.it");
      }
      await waitForTypes(P, "b", `Pg ${i}`, ["posta-certificata"]);
    }
    await stopProvider(P);
    const v = runCli(["log", "verify", "--data", P.dir]);
    assert.equal(v.status, 0, v.stdout + v.stderr);
    // Per message: accettazione, busta-trasporto, consegna.
    assert.match(v.stdout, /registro intact: 12 entries/);
  } finally {
    if (saved === undefined) delete process.env.DOMICILIO_DATABASE_URL;
    else process.env.DOMICILIO_DATABASE_URL = saved;
    rmSync(root, { recursive: true, force: true });
  }
});
