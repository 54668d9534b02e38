// CREATE, DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE (RFC 9051 §6.3.4-8, RFC 6154 §3 CREATE-SPECIAL-USE).
import type { SpecialUse } from "../../../store/types.js";
import { ImapBye, ImapNo } from "../errors.js";
import { decodeName, normalizeInbox, readMailboxName, SEPARATOR } from "../mailbox-names.js";
import { AUTHED, type CommandSpec } from "../registry.js";

const SPECIAL: SpecialUse[] = ["\\Sent", "\\Drafts", "\\Trash", "\\Junk", "\\Archive", "\\All", "\\Flagged"];

export const create: CommandSpec = {
  name: "CREATE",
  states: AUTHED,
  capabilities: ["CREATE-SPECIAL-USE"],
  async run(session, r, { tag }) {
    r.sp();
    let name = decodeName(session, r.astringBytes());
    let specialUse: SpecialUse | null = null;
    if (!r.atEnd) {
      r.sp();
      r.expect("(USE (");
      const flag = r.flag();
      specialUse = SPECIAL.find((s) => s.toLowerCase() === flag.toLowerCase()) ?? null;
      if (!specialUse) throw new ImapNo("USEATTR", "Unsupported special-use attribute");
      r.expect("))");
    }
    r.end();
    // RFC 9051 §6.3.4: a trailing separator only says the client intends to create children.
    while (name.endsWith(SEPARATOR)) name = name.slice(0, -1);
    name = normalizeInbox(name);
    if (name === "INBOX") throw new ImapNo("ALREADYEXISTS", "INBOX always exists");
    const box = session.mailbox!.id;
    // Create missing parents too, as Dovecot does, so the hierarchy stays browsable.
    const parts = name.split(SEPARATOR);
    for (let i = 1; i < parts.length; i++) {
      const parent = parts.slice(0, i).join(SEPARATOR);
      if (!(await session.store.getFolder(box, parent)))
        await session.store.createFolder(box, parent, { subscribed: false });
    }
    // RFC 9051 §6.3.4: CREATE does not subscribe.
    await session.store.createFolder(box, name, { specialUse, subscribed: false });
    await session.finish(tag, "CREATE completed");
  },
};

export const deleteFolder: CommandSpec = {
  name: "DELETE",
  states: AUTHED,
  async run(session, r, { tag }) {
    r.sp();
    const name = readMailboxName(session, r);
    r.end();
    if (name === "INBOX") throw new ImapNo("CANNOT", "INBOX cannot be deleted");
    const box = session.mailbox!.id;
    const folders = await session.store.listFolders(box);
    const target = folders.find((f) => f.name === name);
    if (!target) throw new ImapNo("NONEXISTENT", "No such mailbox");
    // RFC 9051 §6.3.5: a folder with children and \Noselect cannot be deleted; ours are all selectable,
    // so children simply stay (Dovecot does the same with "mailbox has children" only for \Noselect).
    const wasSelected = session.selected?.folder.id === target.id;
    await session.store.deleteFolder(box, name);
    if (wasSelected) throw new ImapBye("Selected mailbox was deleted, have to disconnect");
    await session.finish(tag, "DELETE completed");
  },
};

export const rename: CommandSpec = {
  name: "RENAME",
  states: AUTHED,
  async run(session, r, { tag }) {
    r.sp();
    const from = readMailboxName(session, r);
    r.sp();
    let to = decodeName(session, r.astringBytes());
    r.end();
    while (to.endsWith(SEPARATOR)) to = to.slice(0, -1);
    to = normalizeInbox(to);
    const box = session.mailbox!.id;
    if (!(await session.store.getFolder(box, from))) throw new ImapNo("NONEXISTENT", "No such mailbox");
    if (await session.store.getFolder(box, to)) throw new ImapNo("ALREADYEXISTS", "Target exists");
    const parts = to.split(SEPARATOR);
    for (let i = 1; i < parts.length; i++) {
      const parent = parts.slice(0, i).join(SEPARATOR);
      if (parent === from || parent.startsWith(from + SEPARATOR))
        throw new ImapNo("CANNOT", "Cannot move a mailbox into itself");
      if (!(await session.store.getFolder(box, parent)))
        await session.store.createFolder(box, parent, { subscribed: false });
    }
    await session.store.renameFolder(box, from, to);
    await session.finish(tag, "RENAME completed");
  },
};

function subscription(name: "SUBSCRIBE" | "UNSUBSCRIBE"): CommandSpec {
  return {
    name,
    states: AUTHED,
    async run(session, r, { tag }) {
      r.sp();
      const folder = readMailboxName(session, r);
      r.end();
      const box = session.mailbox!.id;
      const exists = await session.store.getFolder(box, folder);
      if (!exists) {
        // RFC 9051 §6.3.7 allows subscribing to a name that does not exist; we keep only real folders.
        if (name === "UNSUBSCRIBE") {
          await session.finish(tag, `${name} completed`);
          return;
        }
        throw new ImapNo("NONEXISTENT", "No such mailbox");
      }
      await session.store.setSubscribed(box, folder, name === "SUBSCRIBE");
      await session.finish(tag, `${name} completed`);
    },
  };
}

export const subscribe = subscription("SUBSCRIBE");
export const unsubscribe = subscription("UNSUBSCRIBE");
