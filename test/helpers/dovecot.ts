// A throwaway Dovecot IMAP server for tests: Debian's dovecot-imapd (see scripts/system-deps.mjs), started
// with a temporary standalone config on free loopback ports, stopped and removed afterwards. The system
// dovecot service and the standard ports are never touched.
//
//   const dc = await startDovecot({ users: ["src", "dst"] });
//   await writeCorpus(dc.maildir("src"), { scale: 0.1 });   // test/fixtures/corpus.ts
//   await dc.fixOwnership();                                 // needed after writing Maildir as root
//   … imap://src:pass@127.0.0.1:${dc.port}  or  imaps://…:${dc.tlsPort} (self-signed) …
//   await dc.stop();
//
// Layouts: `separator: "/"` (default, like most providers) or `aruba: true`, which mimics Aruba PEC: one
// namespace with prefix "INBOX." and "." as separator, so every folder is listed as INBOX.Something and
// no special-use attributes are announced (the engine must map folders by name).
//
// Dovecot runs in its "rootless" mode: every process runs as one unprivileged user. When the tests run as
// root (CI containers) that user is `peermail`, created on first use, and the instance directory is
// handed to it; otherwise it is the current user.
import { execFile, execFileSync, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { chown, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const execFileP = promisify(execFile);

export interface DovecotOptions {
  /** Login names; every one gets `password`. Default: ["src", "dst"]. */
  users?: string[];
  /** Default "pass". */
  password?: string;
  /** Hierarchy separator of the (single) namespace. Default "/". Ignored when `aruba` is set. */
  separator?: "/" | ".";
  /** Aruba-style layout: prefix "INBOX.", separator ".", no special-use attributes. */
  aruba?: boolean;
  /** Announce \Sent, \Drafts, \Trash, \Junk on the folders of those names (RFC 6154). Default true. */
  specialUse?: boolean;
  /** Also listen with implicit TLS on `tlsPort` (self-signed certificate). Default true. */
  tls?: boolean;
  /** mail_fsync; default "never" (tests do not survive power cuts and this spares the shared disk). */
  fsync?: "optimized" | "always" | "never";
  /** Sessions one user may hold at once (mail_max_userip_connections). Default 1000. */
  maxUserConnections?: number;
}

export interface Dovecot {
  host: string;
  /** Plain IMAP (STARTTLS offered when tls is on). */
  port: number;
  /** Implicit TLS, 0 when off. */
  tlsPort: number;
  dir: string;
  password: string;
  users: string[];
  separator: string;
  /** The namespace prefix folders are listed under ("" or "INBOX."). */
  prefix: string;
  /** The user's Maildir root (Maildir++ layout): write fixtures here before the first login. */
  maildir(user: string): string;
  /** `imap://user@host:port` or `imaps://…`. */
  url(user: string, options?: { tls?: boolean }): string;
  /** Gives the instance directory to the user Dovecot runs as (after writing Maildir files as root). */
  fixOwnership(): Promise<void>;
  doveadm(args: string[]): Promise<string>;
  /** The command line that runs doveadm against this instance (as the right user), for spawning. */
  doveadmCommand(args: string[]): [string, string[]];
  stop(): Promise<void>;
}

const RUN_AS = "peermail";

import { freePort } from "./ports.js";

export { freePort };

function isRoot(): boolean {
  return process.getuid?.() === 0;
}

function runAsIdentity(): { user: string; group: string; uid: number; gid: number } {
  if (!isRoot()) {
    const user = execFileSync("id", ["-un"]).toString().trim();
    const group = execFileSync("id", ["-gn"]).toString().trim();
    return { user, group, uid: process.getuid!(), gid: process.getgid!() };
  }
  try {
    execFileSync("id", [RUN_AS], { stdio: "ignore" });
  } catch {
    execFileSync("useradd", ["--system", "--no-create-home", "--shell", "/usr/sbin/nologin", RUN_AS]);
  }
  const uid = Number(execFileSync("id", ["-u", RUN_AS]).toString().trim());
  const gid = Number(execFileSync("id", ["-g", RUN_AS]).toString().trim());
  const group = execFileSync("id", ["-gn", RUN_AS]).toString().trim();
  return { user: RUN_AS, group, uid, gid };
}

async function chownTree(path: string, uid: number, gid: number): Promise<void> {
  await execFileP("chown", ["-R", `${uid}:${gid}`, path]);
}

function asUser(cmd: string, args: string[]): [string, string[]] {
  return isRoot() ? ["runuser", ["-u", RUN_AS, "--", cmd, ...args]] : [cmd, args];
}

async function waitForPort(port: number, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = new Socket();
      s.once("connect", () => {
        s.destroy();
        resolve(true);
      });
      s.once("error", () => resolve(false));
      s.connect(port, "127.0.0.1");
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`dovecot did not listen on 127.0.0.1:${port}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function startDovecot(options: DovecotOptions = {}): Promise<Dovecot> {
  if (!existsSync("/usr/sbin/dovecot")) {
    throw new Error("Dovecot is missing: apt-get install -y dovecot-imapd (scripts/system-deps.mjs)");
  }
  const users = options.users ?? ["src", "dst"];
  const password = options.password ?? "pass";
  const aruba = options.aruba ?? false;
  const separator = aruba ? "." : (options.separator ?? "/");
  const prefix = aruba ? "INBOX." : "";
  const specialUse = !aruba && (options.specialUse ?? true);
  const tls = options.tls ?? true;
  const id = runAsIdentity();
  const dir = await mkdtemp(join(tmpdir(), "domicilio-dovecot-"));
  for (const sub of ["run", "state", "log", "home"]) await mkdir(join(dir, sub), { recursive: true });
  const port = await freePort();
  const tlsPort = tls ? await freePort() : 0;

  await writeFile(join(dir, "users"), users.map((u) => `${u}:{PLAIN}${password}::::::\n`).join(""));
  if (tls) {
    await execFileP("openssl", [
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-days",
      "3650",
      "-subj",
      "/CN=localhost",
      "-keyout",
      join(dir, "key.pem"),
      "-out",
      join(dir, "cert.pem"),
    ]);
  }
  const specialBlocks = specialUse
    ? ["Drafts", "Sent", "Trash", "Junk"]
        .map((n) => `  mailbox ${n} {\n    special_use = \\${n}\n  }\n`)
        .join("")
    : "";
  const conf = `# generated by test/helpers/dovecot.ts -- standalone, no conf.d includes
base_dir = ${dir}/run
state_dir = ${dir}/state
log_path = ${dir}/log/dovecot.log
info_log_path = ${dir}/log/dovecot.log
instance_name = domicilio-test-${port}
protocols = imap
listen = 127.0.0.1
default_login_user = ${id.user}
default_internal_user = ${id.user}
default_internal_group = ${id.group}
first_valid_uid = 1
${tls ? `ssl = yes\nssl_cert = <${dir}/cert.pem\nssl_key = <${dir}/key.pem` : "ssl = no"}
disable_plaintext_auth = no
auth_mechanisms = plain login
# Tests try wrong passwords on purpose: answer at once.
auth_failure_delay = 0
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u ${dir}/users
}
userdb {
  driver = passwd-file
  args = username_format=%u ${dir}/users
  default_fields = home=${dir}/home/%u
}
mail_location = maildir:~/Maildir
mail_fsync = ${options.fsync ?? "never"}
mail_max_userip_connections = ${options.maxUserConnections ?? 1000}
namespace inbox {
  inbox = yes
  separator = ${separator}
  prefix = ${prefix}
${specialBlocks}}
service imap-login {
  chroot =
  inet_listener imap {
    port = ${port}
  }
  inet_listener imaps {
    port = ${tlsPort}
    ssl = yes
  }
}
service anvil {
  chroot =
}
service imap {
  process_limit = 1024
}
`;
  const confPath = join(dir, "dovecot.conf");
  await writeFile(confPath, conf);
  for (const u of users) await mkdir(join(dir, "home", u, "Maildir"), { recursive: true });
  if (isRoot()) await chownTree(dir, id.uid, id.gid);

  // The master daemonizes; its inherited stdio must not be pipes, or we would wait for them to close.
  const [cmd, args] = asUser("/usr/sbin/dovecot", ["-c", confPath]);
  await new Promise<void>((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ["ignore", "ignore", "inherit"] });
    child.on("error", reject);
    child.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`dovecot exited with ${code}`))));
  });
  await waitForPort(port);
  if (tls) await waitForPort(tlsPort);

  let stopped = false;
  const dc: Dovecot = {
    host: "127.0.0.1",
    port,
    tlsPort,
    dir,
    password,
    users,
    separator,
    prefix,
    maildir: (user) => join(dir, "home", user, "Maildir"),
    url: (user, o) => (o?.tls ? `imaps://${user}@127.0.0.1:${tlsPort}` : `imap://${user}@127.0.0.1:${port}`),
    fixOwnership: async () => {
      if (isRoot()) await chownTree(dir, id.uid, id.gid);
    },
    doveadm: async (a) => {
      const [c, ar] = asUser("/usr/bin/doveadm", ["-c", confPath, ...a]);
      const { stdout } = await execFileP(c, ar, { maxBuffer: 64 * 1024 * 1024 });
      return stdout;
    },
    doveadmCommand: (a) => asUser("/usr/bin/doveadm", ["-c", confPath, ...a]),
    stop: async () => {
      if (stopped) return;
      stopped = true;
      try {
        const [c, ar] = asUser("/usr/bin/doveadm", ["-c", confPath, "stop"]);
        await execFileP(c, ar);
      } catch {
        // already gone
      }
      // doveadm stop returns once the master is told; wait for the listener to close before removing.
      for (let i = 0; i < 100; i++) {
        if (!existsSync(join(dir, "run", "master.pid"))) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
  return dc;
}

/** Sets ownership of one path (used by fixtures that write into a running instance). */
export async function chownLike(path: string, like: string): Promise<void> {
  if (!isRoot()) return;
  const { stdout } = await execFileP("stat", ["-c", "%u:%g", like]);
  const [uid, gid] = stdout.trim().split(":").map(Number);
  await chown(path, uid!, gid!);
}
