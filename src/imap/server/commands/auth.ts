// STARTTLS, LOGIN, AUTHENTICATE PLAIN/LOGIN (RFC 9051 §6.2, RFC 4616, SASL-IR RFC 4959).
import { ImapBad, ImapNo } from "../errors.js";
import type { CommandSpec } from "../registry.js";
import type { Session } from "../session.js";

export const starttls: CommandSpec = {
  name: "STARTTLS",
  states: ["notauth"],
  async run(session, r, { tag }) {
    r.end();
    await session.startTls(tag);
  },
};

async function completeLogin(session: Session, tag: string, user: string, password: string) {
  await session.login(user, password);
  session.tagged(tag, "OK", "Logged in", `CAPABILITY ${session.capabilities().join(" ")}`);
}

export const login: CommandSpec = {
  name: "LOGIN",
  states: ["notauth"],
  async run(session, r, { tag }) {
    r.sp();
    const user = r.astring();
    r.sp();
    const password = r.astring();
    r.end();
    await completeLogin(session, tag, user, password);
  },
};

function b64(line: Buffer): string {
  const s = line.toString("latin1").trim();
  if (s === "*") throw new ImapBad("AUTHENTICATE cancelled");
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(s)) throw new ImapBad("Invalid base64");
  return Buffer.from(s, "base64").toString("utf8");
}

async function ask(session: Session, prompt: string): Promise<string> {
  session.write(Buffer.from(`+ ${Buffer.from(prompt).toString("base64")}\r\n`));
  const line = await session.nextLine();
  if (line === null) throw new ImapBad("Connection closed");
  return b64(line);
}

export const authenticate: CommandSpec = {
  name: "AUTHENTICATE",
  states: ["notauth"],
  capabilities: ["SASL-IR"],
  async run(session, r, { tag }) {
    r.sp();
    const mech = r.atom().toUpperCase();
    let initial: string | null = null;
    if (!r.atEnd) {
      r.sp();
      const ir = r.atom();
      // RFC 4959: "=" is an empty initial response.
      initial = ir === "=" ? "" : b64(Buffer.from(ir));
    }
    r.end();
    if (!session.plaintextAllowed) throw new ImapNo("PRIVACYREQUIRED", "Use STARTTLS or port 993 first");
    if (mech === "PLAIN") {
      const msg = initial ?? (await ask(session, ""));
      // authzid NUL authcid NUL passwd (RFC 4616 §2)
      const parts = msg.split("\0");
      if (parts.length !== 3) throw new ImapBad("Malformed PLAIN response");
      const [authz, user, password] = parts as [string, string, string];
      if (authz && authz.toLowerCase() !== user.toLowerCase())
        throw new ImapNo("AUTHORIZATIONFAILED", "Cannot act as another user");
      await completeLogin(session, tag, user, password);
      return;
    }
    if (mech === "LOGIN") {
      const user = initial ?? (await ask(session, "Username:"));
      const password = await ask(session, "Password:");
      await completeLogin(session, tag, user, password);
      return;
    }
    throw new ImapNo("CANNOT", "Unsupported authentication mechanism");
  },
};
