// APPEND (RFC 9051 §6.3.12) with MULTIAPPEND (RFC 3502), UIDPLUS APPENDUID (RFC 4315), UTF8 literals
// (RFC 6855 §4), quota (RFC 9208 OVERQUOTA, all or nothing) and APPENDLIMIT (RFC 7889).
import type { AppendInput } from "../../../store/types.js";
import { formatSet } from "../../proto/sequence-set.js";
import { ImapBad, ImapNo } from "../errors.js";
import { readMailboxName } from "../mailbox-names.js";
import { AUTHED, type CommandSpec } from "../registry.js";

export const append: CommandSpec = {
  name: "APPEND",
  states: AUTHED,
  capabilities: ["MULTIAPPEND", "UIDPLUS", "LITERAL+", "BINARY", "UTF8=ACCEPT"],
  async run(session, r, { tag }) {
    r.sp();
    const name = readMailboxName(session, r);
    const inputs: AppendInput[] = [];
    while (!r.atEnd) {
      r.sp();
      let flags: string[] = [];
      let internalDate: Date | undefined;
      if (r.peekChar() === "(") {
        flags = r.flagList();
        if (flags.some((f) => f.toLowerCase() === "\\recent")) throw new ImapBad("\\Recent cannot be set");
        r.sp();
      }
      if (r.peekChar() === '"') {
        internalDate = r.dateTime();
        r.sp();
      }
      let bytes: Buffer;
      if (r.take("UTF8 (")) {
        bytes = r.stringBytes();
        r.expect(")");
      } else bytes = r.stringBytes();
      if (bytes.length === 0) throw new ImapNo("CANNOT", "Cannot store an empty message");
      if (bytes.length > session.ctx.limits.maxAppendBytes) throw new ImapNo("TOOBIG", "Message too big");
      // Copy out of the command buffer: the store keeps the bytes exactly as they are.
      inputs.push({ bytes: Buffer.from(bytes), flags, ...(internalDate ? { internalDate } : {}) });
    }
    if (inputs.length === 0) throw new ImapBad("Message literal expected");
    const folder = await session.store.getFolder(session.mailbox!.id, name);
    if (!folder) throw new ImapNo("TRYCREATE", "No such mailbox");
    const res = await session.store.appendMessages(session.mailbox!.id, folder.id, inputs);
    const uids = res.messages.map((m) => m.uid);
    await session.finish(tag, "APPEND completed", {
      code: `APPENDUID ${res.folder.uidValidity} ${formatSet(uids, false)}`,
    });
  },
};
