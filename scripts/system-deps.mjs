// System peers the test suite drives for real (README, "Test it"). Each entry names a program we look
// for and the Debian package that provides it. `ensureSystemDeps` installs what is missing when it runs as
// root on Debian, and otherwise stops with the list of packages to install: never skip silently.
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";

/** @type {{ name: string, package: string, find: () => string | null }[]} */
export const SYSTEM_DEPS = [
  {
    name: "PostgreSQL server (initdb, pg_ctl)",
    package: "postgresql",
    find: () => findPostgresBin("initdb"),
  },
  { name: "OpenSSL", package: "openssl", find: () => which("openssl") },
  // The PEC service's virus path (test/transport): clamd started rootless on a test-written EICAR
  // signature database; freshclam never runs.
  { name: "ClamAV daemon (clamd)", package: "clamav-daemon", find: () => which("clamd") },
  // Migration tests and bench: a throwaway source IMAP server, and mbsync as the speed peer.
  // IMAP/POP3 real-client tests, the Dovecot comparison and the IMAP benchmark use them too.
  { name: "Dovecot IMAP server", package: "dovecot-imapd", find: () => which("dovecot") },
  { name: "mbsync (isync)", package: "isync", find: () => which("mbsync") },
  { name: "offlineimap", package: "offlineimap3", find: () => which("offlineimap") },
  { name: "mutt", package: "mutt", find: () => which("mutt") },
  { name: "tmux (drives mutt in a terminal)", package: "tmux", find: () => which("tmux") },
  { name: "fetchmail", package: "fetchmail", find: () => which("fetchmail") },
  { name: "curl (POP3S test)", package: "curl", find: () => which("curl") },
];

export function which(cmd) {
  for (const dir of (process.env.PATH ?? "").split(":")) {
    if (dir && existsSync(`${dir}/${cmd}`)) return `${dir}/${cmd}`;
  }
  for (const dir of ["/usr/sbin", "/sbin", "/usr/bin"]) {
    if (existsSync(`${dir}/${cmd}`)) return `${dir}/${cmd}`;
  }
  return null;
}

/** Debian keeps PostgreSQL's server binaries in /usr/lib/postgresql/<version>/bin, off the PATH. */
export function findPostgresBin(cmd) {
  const root = "/usr/lib/postgresql";
  if (existsSync(root)) {
    const versions = readdirSync(root)
      .filter((v) => /^\d+$/.test(v))
      .sort((a, b) => Number(b) - Number(a));
    for (const v of versions) {
      const p = `${root}/${v}/bin/${cmd}`;
      if (existsSync(p)) return p;
    }
  }
  return which(cmd);
}

function isDebian() {
  try {
    return /debian|ubuntu/i.test(readFileSync("/etc/os-release", "utf8"));
  } catch {
    return false;
  }
}

export function ensureSystemDeps(deps = SYSTEM_DEPS) {
  const missing = deps.filter((d) => d.find() === null);
  if (missing.length === 0) return;
  const pkgs = [...new Set(missing.map((d) => d.package))];
  const canInstall = process.getuid?.() === 0 && isDebian();
  if (!canInstall) {
    throw new Error(
      `The test suite needs these system packages, which are missing: ${pkgs.join(" ")}\n` +
        `Install them (Debian/Ubuntu: sudo apt-get install -y ${pkgs.join(" ")}) and run the tests again.`,
    );
  }
  console.log(`installing system test peers: ${pkgs.join(" ")}`);
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  // Another apt run on the machine (unattended upgrades, a second checkout's tests) holds dpkg's lock for
  // a while: wait for it rather than fail the whole suite at once.
  const wait = ["-o", "DPkg::Lock::Timeout=600"];
  execFileSync("apt-get", [...wait, "update", "-qq"], { stdio: "inherit", env });
  execFileSync("apt-get", [...wait, "install", "-y", "-qq", "--no-install-recommends", ...pkgs], {
    stdio: "inherit",
    env,
  });
  const still = deps.filter((d) => d.find() === null);
  if (still.length > 0)
    throw new Error(`still missing after install: ${still.map((d) => d.name).join(", ")}`);
}
