// The providers' index (RFC 6109 §5) and the provider's own keys: AgID LDIF and JSON entries, domain and
// certificate look-ups, reload without restart, and the CLI of contract.md (init, provider export/import,
// pec inspect --data).
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { buildAccettazione, openTransaction } from "../../src/pec/builders.js";
import { ProvidersIndexError } from "../../src/pec/errors.js";
import { assessIncoming } from "../../src/pec/incoming.js";
import { ensureProviderKeys, ownProviderEntry } from "../../src/pec/provider-keys.js";
import {
  importProviders,
  ProvidersIndex,
  parseLdif,
  parseProvidersFile,
} from "../../src/pec/providers-index.js";
import { runCli } from "../helpers/cli.js";
import { originalMessage, testProvider } from "./pec-helpers.js";

const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), "domicilio-providers-"));
  dirs.push(d);
  return d;
};
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function ldifFor(name: string, der: Buffer, domains: string[], receipt: string): string {
  const b64 = der.toString("base64");
  // RFC 2849 folding: continuation lines start with one space.
  const folded = (b64.match(/.{1,76}/g) ?? []).join("\n ");
  return [
    "# AgID index excerpt",
    `dn: providerName=${name},o=postacert`,
    "objectclass: top",
    "objectclass: provider",
    `providerName: ${name}`,
    `mailReceipt: ${receipt}`,
    ...domains.map((d) => `managedDomains: ${d}`),
    "providerCertificateHash: SHA1#AB:CD:EF",
    `providerCertificate:: ${folded}`,
    "",
    `dn: providerUnit=2,providerName=${name},o=postacert`,
    `providerName: ${name}`,
    "managedDomains: extra.example.it",
    "",
  ].join("\n");
}

describe("the providers' index", () => {
  test("an AgID LDIF entry gives name, domains, mailReceipt, certificate and hash", async () => {
    const p = await testProvider("Gamma PEC S.p.A.", "pec.gamma.it");
    try {
      const entries = parseLdif(
        ldifFor(
          "Gamma PEC S.p.A.",
          p.keys.signing.raw,
          ["pec.gamma.it", "gammapec.it"],
          "posta-certificata@pec.gamma.it",
        ),
      );
      assert.equal(entries.length, 1);
      const e = entries[0]!;
      assert.equal(e.name, "Gamma PEC S.p.A.");
      assert.deepEqual(e.domains, ["pec.gamma.it", "gammapec.it", "extra.example.it"]);
      assert.equal(e.mailReceipt, "posta-certificata@pec.gamma.it");
      assert.equal(e.certificates.length, 1);
      assert.deepEqual(e.certificateHashes, ["sha1#abcdef"]);
      const index = ProvidersIndex.fromEntries(entries);
      assert.equal(index.isPecDomain("PEC.GAMMA.IT"), true);
      assert.equal(index.isPecDomain("gmail.com"), false);
      assert.equal(index.classify("anna@gammapec.it"), "certificato");
      assert.equal(index.classify("anna@gmail.com"), "esterno");
      assert.equal(index.mailReceiptFor("gammapec.it"), "posta-certificata@pec.gamma.it");
      assert.equal(index.providerForCertificate(p.keys.signing)?.name, "Gamma PEC S.p.A.");
      assert.equal(index.providerForCertificate(p.keys.ca), null, "the CA is not a signing certificate");
    } finally {
      p.cleanup();
    }
  });

  test("a broken LDIF or JSON entry is a typed error", () => {
    assert.throws(() => parseLdif("dn: x\nthis is not ldif\n"), ProvidersIndexError);
    assert.throws(() => parseLdif("dn: x\nfoo: bar\n"), ProvidersIndexError);
    assert.throws(() => parseProvidersFile('{"domains": []}'), ProvidersIndexError);
    assert.throws(
      () =>
        parseProvidersFile(
          '{"name": "X", "certificates": ["-----BEGIN CERTIFICATE-----\\nAAAA\\n-----END CERTIFICATE-----"]}',
        ),
      ProvidersIndexError,
    );
  });

  test("a certificate issued by a provider's CA belongs to that provider, and its hash is matched too", async () => {
    const p = await testProvider("Delta PEC", "pec.delta.it");
    try {
      const own = ownProviderEntry({ name: "Delta PEC", domain: "pec.delta.it" }, p.keys);
      const byCa = ProvidersIndex.fromEntries([{ ...own, certificates: [] }]);
      assert.equal(byCa.providerForCertificate(p.keys.signing)?.name, "Delta PEC");
      // As AgID publishes hashes: algorithm prefix, upper-case hex with colons.
      const hash = `SHA-256#${p.keys.signing.fingerprint256}`;
      const byHash = ProvidersIndex.fromEntries([
        { ...own, certificates: [], ca: null, certificateHashes: [hash] },
      ]);
      assert.equal(byHash.providerForCertificate(p.keys.signing)?.name, "Delta PEC");
    } finally {
      p.cleanup();
    }
  });

  test("an index on a data folder sees an imported provider without being reopened", async () => {
    const data = tempDir();
    const p = await testProvider("Epsilon PEC", "pec.epsilon.it");
    try {
      let clock = 0;
      const index = ProvidersIndex.open(data, [], { now: () => clock, checkEveryMs: 1000 });
      assert.equal(index.isPecDomain("pec.epsilon.it"), false);
      importProviders(data, [ownProviderEntry({ name: "Epsilon PEC", domain: "pec.epsilon.it" }, p.keys)]);
      clock += 1001;
      assert.equal(index.isPecDomain("pec.epsilon.it"), true);
      const msg = await buildAccettazione(p.ctx, openTransaction(p.ctx, originalMessage()).transaction);
      const { readPec } = await import("../../src/pec/reader.js");
      assert.equal(readPec(msg.raw, { trust: index.trustStore() }).signature.trusted, true);
    } finally {
      p.cleanup();
    }
  });
});

describe("the incoming point's verdict", () => {
  test("valid PEC needs an intact signature by a provider of the index and a daticert", async () => {
    const alfa = await testProvider("Alfa PEC", "pec.alfa.it");
    const stranger = await testProvider("Sconosciuto PEC", "pec.sconosciuto.it");
    try {
      const index = ProvidersIndex.fromEntries([
        ownProviderEntry({ name: "Alfa PEC", domain: "pec.alfa.it" }, alfa.keys),
      ]);
      const mine = await buildAccettazione(
        alfa.ctx,
        openTransaction(alfa.ctx, originalMessage()).transaction,
      );
      const ok = assessIncoming(mine.raw, index);
      assert.equal(ok.valid, true, ok.reason ?? "");
      assert.equal(ok.provider?.name, "Alfa PEC");

      const theirs = await buildAccettazione(
        stranger.ctx,
        openTransaction(stranger.ctx, originalMessage()).transaction,
      );
      const unknown = assessIncoming(theirs.raw, index);
      assert.equal(unknown.valid, false);
      assert.match(unknown.reason ?? "", /not a provider of the index/);

      const text = mine.raw.toString("latin1");
      const at = text.indexOf("Ricevuta di accettazione");
      const broken = assessIncoming(
        Buffer.from(`${text.slice(0, at)}X${text.slice(at + 1)}`, "latin1"),
        index,
      );
      assert.equal(broken.valid, false);
      assert.match(broken.reason ?? "", /signature broken/);

      const ordinary = assessIncoming(originalMessage(), index);
      assert.equal(ordinary.valid, false);
      assert.match(ordinary.reason ?? "", /not a PEC message/);
    } finally {
      alfa.cleanup();
      stranger.cleanup();
    }
  });
});

describe("the provider's keys", () => {
  test("ensureProviderKeys creates the CA and a signing certificate for posta-certificata@domain, keys 0600, once", async () => {
    const data = tempDir();
    const first = await ensureProviderKeys(data, { name: "Zeta, PEC S.p.A.", domain: "pec.zeta.it" });
    for (const f of ["ca.key", "signing.key"])
      assert.equal(statSync(join(data, "keys", f)).mode & 0o777, 0o600, f);
    const second = await ensureProviderKeys(data, { name: "Zeta, PEC S.p.A.", domain: "pec.zeta.it" });
    assert.equal(second.signingPem, first.signingPem, "a second run keeps the keys");
    assert.equal(second.caPem, first.caPem);
    // Read by OpenSSL, not by us.
    const text = spawnSync("openssl", ["x509", "-noout", "-text", "-in", join(data, "keys", "signing.pem")], {
      encoding: "utf8",
    }).stdout;
    assert.match(text, /email:posta-certificata@pec\.zeta\.it/);
    assert.match(text, /E-mail Protection/);
    assert.match(text, /Digital Signature, Non Repudiation/);
    const verify = spawnSync(
      "openssl",
      [
        "verify",
        "-purpose",
        "smimesign",
        "-CAfile",
        join(data, "keys", "ca.pem"),
        join(data, "keys", "signing.pem"),
      ],
      { encoding: "utf8" },
    );
    assert.equal(verify.status, 0, verify.stderr);
  });
});

describe("the domicilio command for providers", () => {
  test("init creates the keys, provider export prints the entry, provider import makes another provider trust it", () => {
    const root = tempDir();
    const a = join(root, "alfa");
    const b = join(root, "beta");
    for (const [d, dom, name] of [
      [a, "pec.alfa.it", "Alfa PEC"],
      [b, "pec.beta.it", "Beta PEC"],
    ] as const) {
      const r = runCli(["init", "--data", d, "--domain", dom, "--provider-name", name]);
      assert.equal(r.status, 0, r.stderr);
    }
    const exported = runCli(["provider", "export", "--data", a]);
    assert.equal(exported.status, 0, exported.stderr);
    const entry = JSON.parse(exported.stdout) as Record<string, unknown>;
    assert.deepEqual(Object.keys(entry), ["name", "domains", "mailReceipt", "certificates", "ca"]);
    assert.equal(entry["name"], "Alfa PEC");
    assert.deepEqual(entry["domains"], ["pec.alfa.it"]);
    assert.equal(entry["mailReceipt"], "posta-certificata@pec.alfa.it");
    assert.equal(
      (entry["certificates"] as string[])[0],
      readFileSync(join(a, "keys", "signing.pem"), "utf8"),
    );
    assert.equal(entry["ca"], readFileSync(join(a, "keys", "ca.pem"), "utf8"));

    const file = join(root, "alfa.json");
    writeFileSync(file, exported.stdout);
    const imported = runCli(["provider", "import", file, "--data", b]);
    assert.equal(imported.status, 0, imported.stderr);
    assert.match(imported.stdout, /imported Alfa PEC/);
    assert.equal(ProvidersIndex.open(b).isPecDomain("pec.alfa.it"), true);
  });

  test("pec inspect --data trusts the provider's own CA and its imported providers", async () => {
    const root = tempDir();
    const a = join(root, "alfa");
    const r = runCli(["init", "--data", a, "--domain", "pec.alfa.it", "--provider-name", "Alfa PEC"]);
    assert.equal(r.status, 0, r.stderr);
    const keys = await ensureProviderKeys(a, { name: "Alfa PEC", domain: "pec.alfa.it" });
    const { randomBytes } = await import("node:crypto");
    const ctx = {
      provider: { name: "Alfa PEC", domain: "pec.alfa.it" },
      signer: keys.signer,
      now: () => new Date(),
      random: randomBytes,
    };
    const msg = await buildAccettazione(ctx, openTransaction(ctx, originalMessage()).transaction);
    const file = join(root, "acc.eml");
    writeFileSync(file, msg.raw);
    const mine = JSON.parse(runCli(["pec", "inspect", "--json", "--data", a, file]).stdout);
    assert.equal(mine.signature.trusted, true);
    const other = join(root, "other");
    assert.equal(
      runCli(["init", "--data", other, "--domain", "pec.other.it", "--provider-name", "Other"]).status,
      0,
    );
    const theirs = JSON.parse(runCli(["pec", "inspect", "--json", "--data", other, file]).stdout);
    assert.equal(theirs.signature.intact, true);
    assert.equal(theirs.signature.trusted, false);
  });
});
