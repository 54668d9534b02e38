// QUOTA (RFC 9208): one storage root "" per box, in units of 1024 octets.
import { str } from "../../proto/serializer.js";
import { ImapNo } from "../errors.js";
import { encodeName, readMailboxName } from "../mailbox-names.js";
import { AUTHED, type CommandSpec } from "../registry.js";
import type { Session } from "../session.js";

async function quotaLine(session: Session): Promise<void> {
  const q = await session.store.quota(session.mailbox!.id);
  session.untagged("QUOTA", str(""), [
    "STORAGE",
    Math.ceil(q.usedBytes / 1024),
    Math.floor(q.quotaBytes / 1024),
  ]);
}

export const getquotaroot: CommandSpec = {
  name: "GETQUOTAROOT",
  states: AUTHED,
  capabilities: ["QUOTA", "QUOTA=RES-STORAGE"],
  async run(session, r, { tag }) {
    r.sp();
    const name = readMailboxName(session, r);
    r.end();
    if (!(await session.store.getFolder(session.mailbox!.id, name)))
      throw new ImapNo("NONEXISTENT", "No such mailbox");
    session.untagged("QUOTAROOT", encodeName(session, name), str(""));
    await quotaLine(session);
    await session.finish(tag, "GETQUOTAROOT completed");
  },
};

export const getquota: CommandSpec = {
  name: "GETQUOTA",
  states: AUTHED,
  async run(session, r, { tag }) {
    r.sp();
    const root = r.astring();
    r.end();
    if (root !== "") throw new ImapNo("NONEXISTENT", "No such quota root");
    await quotaLine(session);
    await session.finish(tag, "GETQUOTA completed");
  },
};

export const setquota: CommandSpec = {
  name: "SETQUOTA",
  states: AUTHED,
  async run(_session, _r) {
    // RFC 9208 §4.3: quotas are set by the order's administration, not by the member.
    throw new ImapNo("NOPERM", "Quotas are managed by the provider");
  },
};
