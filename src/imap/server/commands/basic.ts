// CAPABILITY, NOOP, CHECK, LOGOUT, ID, ENABLE, NAMESPACE (RFC 9051 §6.1, §6.4.1; RFC 2971; RFC 5161;
// RFC 2342). Small enough to share a file.
import { str } from "../../proto/serializer.js";
import { ImapBye } from "../errors.js";
import { ANY, AUTHED, type CommandSpec, SELECTED } from "../registry.js";

export const capability: CommandSpec = {
  name: "CAPABILITY",
  states: ANY,
  async run(session, r, { tag }) {
    r.end();
    session.untagged("CAPABILITY", ...session.capabilities());
    await session.finish(tag, "CAPABILITY completed");
  },
};

export const noop: CommandSpec = {
  name: "NOOP",
  states: ANY,
  async run(session, r, { tag }) {
    r.end();
    await session.finish(tag, "NOOP completed");
  },
};

export const check: CommandSpec = {
  name: "CHECK",
  states: SELECTED,
  async run(session, r, { tag }) {
    r.end();
    await session.finish(tag, "CHECK completed");
  },
};

export const logout: CommandSpec = {
  name: "LOGOUT",
  states: ANY,
  async run(session, r, { tag }) {
    r.end();
    session.untagged("BYE", "Domicilio IMAP logging out");
    session.tagged(tag, "OK", "LOGOUT completed");
    session.state = "logout";
    session.close();
  },
};

const SERVER_ID = ["name", "Domicilio", "vendor", "Domicilio", "support-url", "https://github.com/domicilio"];

export const id: CommandSpec = {
  name: "ID",
  states: ANY,
  capabilities: ["ID"],
  async run(session, r, { tag }) {
    r.sp();
    // RFC 2971 §3.3: NIL or a list of up to 30 field/value pairs.
    if (!r.take("NIL")) {
      const items = r.parenList(() => r.nstring());
      if (items.length > 60 || items.length % 2 !== 0) throw new ImapBye("Malformed ID");
    }
    r.end();
    session.untagged(
      "ID",
      SERVER_ID.map((s) => str(s)),
    );
    await session.finish(tag, "ID completed");
  },
};

const ENABLEABLE = new Set(["CONDSTORE", "QRESYNC", "UTF8=ACCEPT"]);

export const enable: CommandSpec = {
  name: "ENABLE",
  states: AUTHED,
  capabilities: ["ENABLE"],
  async run(session, r, { tag }) {
    const names: string[] = [];
    do {
      r.sp();
      names.push(r.atom().toUpperCase());
    } while (!r.atEnd);
    const turnedOn: string[] = [];
    for (const n of names) {
      if (!ENABLEABLE.has(n) || session.enabled.has(n)) continue;
      session.enabled.add(n);
      turnedOn.push(n);
      // RFC 7162 §3.2.3: enabling QRESYNC implies CONDSTORE.
      if (n === "QRESYNC" && !session.enabled.has("CONDSTORE")) session.enabled.add("CONDSTORE");
    }
    session.untagged("ENABLED", ...turnedOn);
    await session.finish(tag, "ENABLE completed");
  },
};

export const namespace: CommandSpec = {
  name: "NAMESPACE",
  states: AUTHED,
  capabilities: ["NAMESPACE"],
  async run(session, r, { tag }) {
    r.end();
    // One personal namespace, no prefix, "/" separator; no other users' or shared namespaces.
    session.untagged("NAMESPACE", [[str(""), str("/")]], null, null);
    await session.finish(tag, "NAMESPACE completed");
  },
};
