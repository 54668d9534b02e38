import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { configReference } from "../../src/cli/commands/config.js";
import { ConfigError, loadConfig } from "../../src/config/load.js";

const dirs: string[] = [];
function folderWith(name: string, text: string): string {
  const d = mkdtempSync(join(tmpdir(), "domicilio-config-"));
  dirs.push(d);
  writeFileSync(join(d, name), text);
  return d;
}
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const minimal = '[provider]\nname = "P"\ndomain = "pec.example.it"\n';

describe("configuration", () => {
  test("a minimal file gets every default", () => {
    const { config } = loadConfig(folderWith("domicilio.toml", minimal), {});
    assert.equal(config.listen.imap, 143);
    assert.equal(config.listen.http, 8080);
    assert.equal(config.mailbox.quotaBytes, 1024 ** 3);
    assert.equal(config.database.url, "");
    assert.deepEqual(config.provider.domains, []);
  });

  test("JSON works as well as TOML", () => {
    const { config } = loadConfig(
      folderWith("domicilio.json", JSON.stringify({ provider: { name: "P", domain: "d.it" } })),
      {},
    );
    assert.equal(config.provider.domain, "d.it");
  });

  test("environment variables of the contract override the file", () => {
    const { config } = loadConfig(folderWith("domicilio.toml", minimal), {
      DOMICILIO_BIND: "127.0.0.1",
      DOMICILIO_IMAPS_PORT: "10993",
      DOMICILIO_DATABASE_URL: "postgres://u@h/db",
    });
    assert.equal(config.listen.bind, "127.0.0.1");
    assert.equal(config.listen.imaps, 10993);
    assert.equal(config.database.url, "postgres://u@h/db");
  });

  test("every problem names its key", () => {
    const cases: [string, RegExp][] = [
      [`${minimal}[mailbox]\nquota = 5\n`, /unknown key "mailbox\.quota"/],
      [`colour = "red"\n${minimal}`, /unknown key "colour"/],
      [`${minimal}[listen]\nimap = 70000\n`, /listen\.imap: /],
      [`${minimal}[log]\nlevel = "loud"\n`, /log\.level: /],
      ['[provider]\nname = "P"\n', /provider\.domain: /],
      ["this is = not toml [", /not valid TOML/],
    ];
    for (const [text, message] of cases) {
      assert.throws(
        () => loadConfig(folderWith("domicilio.toml", text), {}),
        (e: unknown) => e instanceof ConfigError && message.test(e.message),
      );
    }
  });

  test("the generated reference documents every key with its default", () => {
    const doc = configReference();
    for (const key of [
      "provider.name",
      "listen.imaps",
      "database.url",
      "mailbox.quotaBytes",
      "blobs.fsync",
    ]) {
      assert.match(doc, new RegExp(`\`${key.replace(".", "\\.")}\``));
    }
    assert.match(doc, /DOMICILIO_IMAPS_PORT/);
    assert.match(doc, /`993`/);
  });
});

test("docs/configuration.md is the generated reference, so it never drifts from the schema", async () => {
  const { readFileSync } = await import("node:fs");
  const file = join(import.meta.dirname, "..", "..", "docs", "configuration.md");
  assert.equal(
    readFileSync(file, "utf8").trimEnd(),
    configReference().trimEnd(),
    "run `npx domicilio config docs > docs/configuration.md`",
  );
});
