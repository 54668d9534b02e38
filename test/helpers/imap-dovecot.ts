// A throw-away Dovecot (Debian's dovecot-imapd) on loopback with its own config, for behaviour
// comparisons and the benchmark. Users live in a passwd-file; mail in Maildir with "/" as separator.
// (Written here because the migration branch's test/helpers/dovecot.ts had not landed yet.)
import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { connect, createServer } from "node:net";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";

export interface Dovecot {
  imapPort: number;
  pop3Port: number;
  dir: string;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const addr = s.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

async function waitPort(port: number, deadlineMs: number): Promise<void> {
  const end = Date.now() + deadlineMs;
  while (Date.now() < end) {
    const ok = await new Promise<boolean>((resolve) => {
      const c = connect({ port, host: "127.0.0.1" }, () => {
        c.destroy();
        resolve(true);
      });
      c.on("error", () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`dovecot did not listen on ${port}`);
}

export async function startDovecot(users: { user: string; password: string }[]): Promise<Dovecot> {
  const dir = mkdtempSync(join(tmpdir(), "domicilio-dovecot-"));
  const root = process.getuid?.() === 0;
  const me = userInfo();
  const mailUser = root ? "dovecot" : me.username;
  for (const d of ["run", "state", "mail"]) mkdirSync(join(dir, d), { recursive: true });
  // Dovecot drops to the mail user: it must be able to write the mail folder.
  if (root) {
    const { execFileSync } = await import("node:child_process");
    execFileSync("chown", ["-R", `${mailUser}:${mailUser}`, join(dir, "mail")]);
    execFileSync("chmod", ["755", dir]);
  }
  writeFileSync(join(dir, "passwd"), users.map((u) => `${u.user}:{PLAIN}${u.password}::::::\n`).join(""));
  const imapPort = await freePort();
  const pop3Port = await freePort();
  const conf = `
base_dir = ${dir}/run
state_dir = ${dir}/state
log_path = ${dir}/dovecot.log
instance_name = domicilio-test-${process.pid}-${imapPort}
protocols = imap pop3
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_internal_user = ${root ? "dovecot" : me.username}
default_login_user = ${root ? "dovenull" : me.username}
mail_location = maildir:${dir}/mail/%u:LAYOUT=fs
mail_uid = ${mailUser}
mail_gid = ${mailUser}
first_valid_uid = 0
namespace inbox {
  inbox = yes
  separator = /
  mailbox Sent {
    special_use = \\Sent
    auto = subscribe
  }
  mailbox Trash {
    special_use = \\Trash
    auto = subscribe
  }
}
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u ${dir}/passwd
}
userdb {
  driver = static
  args = home=${dir}/mail/%u
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = ${imapPort}
  }
  inet_listener imaps {
    port = 0
  }
}
service pop3-login {
  inet_listener pop3 {
    address = 127.0.0.1
    port = ${pop3Port}
  }
  inet_listener pop3s {
    port = 0
  }
}
service anvil {
  chroot =
}
service imap-login {
  chroot =
}
service pop3-login {
  chroot =
}
mail_max_userip_connections = 100
`;
  writeFileSync(join(dir, "dovecot.conf"), conf);
  const child: ChildProcess = spawn("dovecot", ["-F", "-c", join(dir, "dovecot.conf")], { stdio: "ignore" });
  let exited = false;
  child.on("exit", () => {
    exited = true;
  });
  await waitPort(imapPort, 15_000);
  return {
    imapPort,
    pop3Port,
    dir,
    async stop() {
      if (!exited) {
        child.kill("SIGTERM");
        await new Promise((r) => child.once("exit", r));
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
