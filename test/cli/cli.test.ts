// The command line of contract.md, driven as an operator or an outside check drives it.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { EPHEMERAL_PORTS, REPO_ROOT, runCli, serve } from "../helpers/cli.js";
import { createTestDatabase } from "../helpers/postgres.js";

const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), "domicilio-cli-"));
  dirs.push(d);
  return d;
};
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

for (const backend of ["sqlite", "postgres"] as const) {
  describe(`the domicilio command on ${backend}`, () => {
    test("init twice is harmless, mailbox add then serve prints the listening line, /healthz answers 200, SIGTERM exits 0", async () => {
      const env = backend === "postgres" ? { DOMICILIO_DATABASE_URL: await createTestDatabase() } : {};
      const data = join(tempDir(), "provider");
      const init = ["init", "--data", data, "--domain", "pec.example.it", "--provider-name", "Test"];
      const first = runCli(init, env);
      assert.equal(first.status, 0, first.stderr);
      const config = readFileSync(join(data, "domicilio.toml"), "utf8");
      // contract.md: init creates the signing key and the self-signed certificates.
      for (const f of [
        "keys/ca.pem",
        "keys/signing.pem",
        "keys/signing.key",
        "tls/server.crt",
        "tls/server.key",
      ]) {
        assert.ok(readFileSync(join(data, f)).length > 0, f);
      }
      const tlsCert = readFileSync(join(data, "tls/server.crt"), "utf8");
      const second = runCli(init, env);
      assert.equal(second.status, 0, second.stderr);
      assert.match(second.stdout, /nothing changed/);
      assert.equal(readFileSync(join(data, "domicilio.toml"), "utf8"), config);
      assert.equal(
        readFileSync(join(data, "tls/server.crt"), "utf8"),
        tlsCert,
        "a second init keeps the certificate",
      );

      const add = runCli(
        ["mailbox", "add", "anna.neri@pec.example.it", "--data", data, "--password", "s3greta!", "--active"],
        env,
      );
      assert.equal(add.status, 0, add.stderr);
      assert.match(add.stdout, /anna\.neri@pec\.example\.it \(active/);
      const waiting = runCli(
        ["mailbox", "add", "bruno@pec.example.it", "--data", data, "--password", "x", "--quota", "5000"],
        env,
      );
      assert.equal(waiting.status, 0, waiting.stderr);
      assert.match(waiting.stdout, /waiting-first-access, quota 5000 bytes/);
      assert.equal(
        runCli(["admin", "add", "admin@opi.example.it", "--data", data, "--password", "pw"], env).status,
        0,
      );

      const served = await serve(data, env);
      try {
        assert.match(served.output(), /^listening http 127\.0\.0\.1:\d+$/m);
        // contract.md: one line per listener; http is printed last, once all the others are up.
        const order = [...served.output().matchAll(/^listening (\S+) /gm)].map((m) => m[1]);
        assert.deepEqual([...order].sort(), [
          "http",
          "imap",
          "imaps",
          "pop3",
          "pop3s",
          "smtp",
          "submission",
          "submissions",
        ]);
        assert.equal(order.at(-1), "http");
        const { port } = served.listening.get("http")!;
        const health = await fetch(`http://127.0.0.1:${port}/healthz`);
        assert.equal(health.status, 200);
        const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
        assert.match(metrics, /domicilio_mailboxes\{state="active"\} 1/);
        assert.match(metrics, /domicilio_mailboxes\{state="waiting-first-access"\} 1/);
      } finally {
        assert.equal(await served.stop("SIGTERM"), 0);
      }
    });

    test("a duplicate address, an invalid address, a foreign domain and a bad quota are refused with a clear message and nothing written", async () => {
      const env = backend === "postgres" ? { DOMICILIO_DATABASE_URL: await createTestDatabase() } : {};
      const data = join(tempDir(), "provider");
      assert.equal(
        runCli(["init", "--data", data, "--domain", "pec.example.it", "--provider-name", "T"], env).status,
        0,
      );
      const pw = ["--data", data, "--password", "pw"];
      assert.equal(runCli(["mailbox", "add", "uno@pec.example.it", ...pw], env).status, 0);
      const cases: [string[], RegExp][] = [
        [["mailbox", "add", "UNO@pec.example.it", ...pw], /already exists/],
        [["mailbox", "add", "not an address", ...pw], /not a valid e-mail address/],
        [["mailbox", "add", "due@altro.example.com", ...pw], /not hosted here/],
        [
          ["mailbox", "add", "tre@pec.example.it", ...pw, "--quota", "lots"],
          /--quota: "lots" is not a positive number/,
        ],
        [["mailbox", "add", "tre@pec.example.it", ...pw, "--quota", "0"], /--quota/],
        [["admin", "add", "bad@", ...pw], /invalid address/],
      ];
      for (const [args, message] of cases) {
        const r = runCli(args, env);
        assert.equal(r.status, 1, `${args.join(" ")} should fail`);
        assert.match(r.stderr, message);
        assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace for a user error");
      }
      // Only the first box exists: the store is unchanged by every refused command.
      const served = await serve(data, env);
      try {
        const metrics = await (
          await fetch(`http://127.0.0.1:${served.listening.get("http")!.port}/metrics`)
        ).text();
        assert.match(metrics, /domicilio_mailboxes\{state="waiting-first-access"\} 1/);
        assert.match(metrics, /domicilio_mailboxes\{state="active"\} 0/);
      } finally {
        await served.stop();
      }
    });
  });
}

describe("configuration errors stop start-up", () => {
  test("an unknown key in domicilio.toml stops serve with a message naming the key", () => {
    const data = join(tempDir(), "p");
    assert.equal(
      runCli(["init", "--data", data, "--domain", "pec.example.it", "--provider-name", "T"]).status,
      0,
    );
    appendFileSync(join(data, "domicilio.toml"), "\n[listen]\nhtttp = 8081\n");
    const r = runCli(["serve", "--data", data]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /unknown key "listen\.htttp"/);
  });

  test("a port variable that is not a number stops serve naming the variable", () => {
    const data = join(tempDir(), "p");
    assert.equal(
      runCli(["init", "--data", data, "--domain", "pec.example.it", "--provider-name", "T"]).status,
      0,
    );
    const r = runCli(["serve", "--data", data], { DOMICILIO_IMAP_PORT: "imap" });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /DOMICILIO_IMAP_PORT=imap: not a port number/);
  });

  test("serve on a folder that was never initialised says how to create it", () => {
    const r = runCli(["serve", "--data", join(tempDir(), "nothing")]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /run `domicilio init/);
  });

  test("a listener port already taken stops serve naming the address, and a missing file is named too", async () => {
    const { createServer } = await import("node:net");
    const data = join(tempDir(), "p");
    assert.equal(
      runCli(["init", "--data", data, "--domain", "pec.example.it", "--provider-name", "T"]).status,
      0,
    );
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, "127.0.0.1", r));
    const port = (blocker.address() as { port: number }).port;
    try {
      const r = runCli(["serve", "--data", data], {
        ...EPHEMERAL_PORTS,
        DOMICILIO_BIND: "127.0.0.1",
        DOMICILIO_HTTP_PORT: String(port),
      });
      assert.equal(r.status, 1);
      assert.match(r.stderr.trim(), new RegExp(`^127\\.0\\.0\\.1:${port}: address already in use$`));
    } finally {
      blocker.close();
    }
    const missing = runCli(["pec", "inspect", join(data, "missing.eml")]);
    assert.equal(missing.status, 1);
    assert.equal(missing.stderr.trim(), `${join(data, "missing.eml")}: no such file or folder`);
  });

  test("init refuses an invalid domain and writes nothing", () => {
    const data = join(tempDir(), "p");
    const r = runCli(["init", "--data", data, "--domain", "not a domain", "--provider-name", "T"]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /--domain/);
    assert.throws(() => readFileSync(join(data, "domicilio.toml")));
  });
});

describe("the demo that npm start runs", () => {
  test("creates the demo provider once, prints what to open and the logins, and reuses the data on a second start", async () => {
    const data = join(tempDir(), "demo");
    const start = async () => {
      const child = spawn(
        process.execPath,
        [join(REPO_ROOT, "bin", "domicilio.js"), "demo", "--data", data],
        {
          env: { ...process.env, ...EPHEMERAL_PORTS },
          stdio: ["ignore", "pipe", "pipe"],
        },
      );
      let out = "";
      child.stdout.on("data", (c: Buffer) => {
        out += c.toString();
      });
      child.stderr.on("data", (c: Buffer) => {
        out += c.toString();
      });
      for (let i = 0; i < 600 && !/Ctrl-C stops it/.test(out) && child.exitCode === null; i++) {
        await new Promise((r) => setTimeout(r, 100));
      }
      const port = Number(out.match(/^listening http 127\.0\.0\.1:(\d+)$/m)?.[1]);
      const health = await fetch(`http://127.0.0.1:${port}/healthz`);
      child.kill("SIGINT");
      const [code] = await once(child, "exit");
      return { out, status: health.status, code };
    };
    const first = await start();
    assert.equal(first.status, 200, first.out);
    assert.equal(first.code, 0);
    assert.match(first.out, /demo created in/);
    assert.match(first.out, /mario\.rossi@pec\.opi\.tn\.it/);
    assert.match(first.out, /password Demo-2026-pec/);
    const second = await start();
    assert.match(second.out, /demo data reused from/);
    assert.equal(second.code, 0);
  });
});
