// A throwaway PostgreSQL cluster for tests: Debian's initdb/pg_ctl on a free loopback port and a private
// socket folder, removed afterwards. PostgreSQL refuses to run as root, so as root it runs as the
// `postgres` system user that Debian's package creates.
import { execFileSync } from "node:child_process";
import { chownSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { findPostgresBin } from "./system-deps.mjs";

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function runAs(user, cmd, args) {
  if (user) return execFileSync("runuser", ["-u", user, "--", cmd, ...args], { stdio: "pipe" });
  return execFileSync(cmd, args, { stdio: "pipe" });
}

/** Starts a cluster; resolves to { url(dbName), adminUrl, stop() }. */
export async function startPostgresCluster() {
  const initdb = findPostgresBin("initdb");
  const pgCtl = findPostgresBin("pg_ctl");
  if (!initdb || !pgCtl) {
    throw new Error("PostgreSQL server binaries not found: install Debian's `postgresql` package");
  }
  const user = process.getuid?.() === 0 ? "postgres" : null;
  const dir = mkdtempSync(join(tmpdir(), "domicilio-pg-"));
  const dataDir = join(dir, "data");
  if (user)
    chownSync(
      dir,
      Number(execFileSync("id", ["-u", user]).toString().trim()),
      Number(execFileSync("id", ["-g", user]).toString().trim()),
    );
  const port = await freePort();
  runAs(user, initdb, [
    "-D",
    dataDir,
    "-U",
    "domicilio",
    "--auth=trust",
    "-E",
    "UTF8",
    "--no-locale",
    "--no-sync",
  ]);
  // Tests only: durability is what fsync gives, and a test cluster is thrown away.
  writeFileSync(
    join(dir, "extra.conf"),
    `listen_addresses='127.0.0.1'\nport=${port}\nunix_socket_directories='${dir}'\nfsync=off\nsynchronous_commit=off\nfull_page_writes=off\nmax_connections=200\n`,
  );
  execFileSync("sh", ["-c", `cat '${join(dir, "extra.conf")}' >> '${join(dataDir, "postgresql.conf")}'`]);
  runAs(user, pgCtl, ["-D", dataDir, "-l", join(dir, "log"), "-w", "-t", "60", "start"]);
  let stopped = false;
  const stop = () => {
    if (stopped) return;
    stopped = true;
    try {
      runAs(user, pgCtl, ["-D", dataDir, "-m", "immediate", "-w", "stop"]);
    } catch {
      // already gone
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const base = `postgres://domicilio@127.0.0.1:${port}`;
  return { url: (db) => `${base}/${db}`, adminUrl: `${base}/postgres`, stop, port };
}
