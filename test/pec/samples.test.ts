// Conformance against real PEC messages (../shared/pec-samples): every file, through the real
// `domicilio pec inspect --json`, gives the type, signature status and daticert of manifest.json.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { readPec } from "../../src/pec/reader.js";
import { runCli } from "../helpers/cli.js";
import { agidTrust, loadManifest, SAMPLES } from "./pec-helpers.js";

const manifest = loadManifest();

describe("real PEC samples", { skip: manifest === null ? "../shared/pec-samples is missing" : false }, () => {
  const entries = manifest ?? [];

  test("the manifest lists the 21 samples the issue requires", () => {
    assert.equal(entries.length, 21);
  });

  for (const m of entries) {
    test(`pec inspect --json agrees with the manifest on ${m.file}`, () => {
      const r = runCli([
        "pec",
        "inspect",
        "--json",
        "--trust",
        join(SAMPLES, "trust"),
        join(SAMPLES, m.file),
      ]);
      assert.equal(r.status, 0, r.stderr);
      const out = JSON.parse(r.stdout) as {
        pec: string | null;
        signature: { present: boolean; intact: boolean; signer: string | null; trusted: boolean | null };
        daticert: (Record<string, unknown> & { data?: { giorno: string; ora: string; zona: string } }) | null;
      };
      assert.equal(out.pec, m.pec);
      if (m.signature_intact === null) {
        assert.equal(out.signature.present, false, "ordinary mail carries no PEC signature");
        assert.equal(out.signature.intact, false);
      } else {
        assert.equal(out.signature.intact, m.signature_intact);
      }
      if (m.daticert === null) {
        assert.equal(out.daticert, null);
      } else {
        assert.ok(out.daticert);
        const { data, ...fields } = out.daticert;
        assert.deepEqual(fields, m.daticert);
        assert.match(data!.giorno, /^\d{2}\/\d{2}\/\d{4}$/);
        assert.match(data!.ora, /^\d{2}:\d{2}:\d{2}$/);
        assert.match(data!.zona, /^[+-]\d{4}$/);
      }
      if (out.signature.intact) {
        assert.ok(out.signature.signer, "an intact signature names its signer");
        assert.equal(typeof out.signature.trusted, "boolean");
      }
    });
  }

  test("signatures of 2018 and later chain to AgID CA1 and are trusted; Aruba 2014 was issued before it", () => {
    const trust = agidTrust();
    for (const m of entries.filter((e) => e.file.startsWith("signed/"))) {
      const r = readPec(readFileSync(join(SAMPLES, m.file)), { trust });
      assert.equal(r.signature.intact, true, m.file);
      assert.equal(r.signature.trusted, !m.file.includes("2014"), m.file);
    }
  });

  test("a sample signed with SHA-1 verifies and says so", () => {
    const r = readPec(
      readFileSync(join(SAMPLES, "signed/namirial-2024-posta-certificata-wrapped-by-mailman.eml")),
    );
    assert.equal(r.signature.intact, true);
    assert.equal(r.signature.digestAlgorithm, "sha1");
    assert.equal(r.signature.trusted, null, "without a trust store, trust is unknown, not false");
  });

  test("without --trust, pec inspect reports trusted as null", () => {
    const r = runCli(["pec", "inspect", "--json", join(SAMPLES, "signed/aruba-2018-accettazione.eml")]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).signature.trusted, null);
  });

  test("the reader extracts the enclosed original and the correlation keys of an envelope", () => {
    const r = readPec(readFileSync(join(SAMPLES, "signed/sogei-2018-posta-certificata.eml")));
    assert.ok(r.original && r.original.length > 0);
    const m = entries.find((e) => e.file === "signed/sogei-2018-posta-certificata.eml")!;
    assert.equal(r.correlation.originalMessageId, m.daticert!["msgid"]);
    assert.equal(r.correlation.identificativo, m.daticert!["identificativo"]);
    // The provider rewrote the enclosed original's Message-ID to the identificativo.
    assert.match(
      r.original.toString("latin1"),
      new RegExp(`Message-ID: <${String(m.daticert!["identificativo"]).replace(/\./g, "\\.")}>`, "i"),
    );
  });
});
