// The old box's folder list as the copy reads it (listing.ts) from LIST and LSUB answers: the rules the
// folder plan relies on, including the servers' habits Dovecot does not show in the whole-box tests.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { ListedName } from "../../src/migration/imap-response.js";
import { decodeName, listedFolders } from "../../src/migration/listing.js";

const l = (name: string, attributes: string[] = [], delimiter: string | null = "/"): ListedName => ({
  name,
  attributes,
  delimiter,
});

test("names: modified UTF-7 decoded; a name that is not valid modified UTF-7 is kept as the server wrote it", () => {
  assert.equal(decodeName("Clienti &- Fornitori"), "Clienti & Fornitori");
  assert.equal(decodeName("Posta inviata &AOAA6A-"), "Posta inviata àè");
  assert.equal(decodeName("Tom & Jerry"), "Tom & Jerry");
  assert.equal(decodeName("Già letta"), "Già letta");
});

test("INBOX in any case is INBOX; a separator written before a name is dropped; a repeated answer counts once", () => {
  const folders = listedFolders(
    [l("inbox"), l("/Sent", ["\\Sent"]), l("Sent", ["\\Sent"]), l("INBOX.Inviata", [], ".")],
    null,
  );
  assert.deepEqual(
    folders.map((f) => f.path),
    ["INBOX", "Sent", "INBOX.Inviata"],
  );
});

test("\\NonExistent is also \\Noselect (RFC 5258), so the plan creates the folder and copies nothing", () => {
  const [f] = listedFolders([l("Archivio", ["\\NonExistent", "\\HasChildren"])], []);
  assert.deepEqual(f!.flags, ["\\NonExistent", "\\HasChildren", "\\Noselect"]);
});

test("subscriptions: from LSUB, \\Noselect ones too; unknown without an answer, so all; INBOX always", () => {
  const list = [l("INBOX"), l("Clienti"), l("Clienti/Rossi"), l("Vuota")];
  const subscribed = (lsub: ListedName[] | null) =>
    Object.fromEntries(listedFolders(list, lsub).map((f) => [f.path, f.subscribed]));
  assert.deepEqual(subscribed([l("Clienti", ["\\Noselect"]), l("Clienti/Rossi")]), {
    INBOX: true,
    Clienti: true,
    "Clienti/Rossi": true,
    Vuota: false,
  });
  // A server that answered neither LSUB nor LIST (SUBSCRIBED): every folder, rather than none.
  assert.deepEqual(subscribed(null), { INBOX: true, Clienti: true, "Clienti/Rossi": true, Vuota: true });
});

test("only the box's own folders: under its personal prefix, never other users' or shared ones", () => {
  const paths = (list: ListedName[], personal: string[], others: string[]) =>
    listedFolders(list, [], { personal, others }).map((f) => f.path);
  // A Cyrus-like server: own folders under INBOX., another user's and a shared folder beside them.
  const cyrus = [
    l("INBOX", [], "."),
    l("INBOX.Sent", [], "."),
    l("user.anna.Spam", [], "."),
    l("Cestino", [], "."),
  ];
  assert.deepEqual(paths(cyrus, ["INBOX."], ["user.", ""]), ["INBOX", "INBOX.Sent"]);
  // Dovecot-like: personal prefix "", shared folders under their own prefix (and its root) left out.
  const dovecot = [l("INBOX"), l("Sent"), l("Shared", ["\\Noselect"]), l("Shared/anna/Spam")];
  assert.deepEqual(paths(dovecot, [""], ["Shared/"]), ["INBOX", "Sent"]);
  // No NAMESPACE answer: everything listed.
  assert.deepEqual(paths(dovecot, [], []), ["INBOX", "Sent", "Shared", "Shared/anna/Spam"]);
});

test("order: INBOX, the special-use folders, then by name a level at a time (a parent before its children)", () => {
  const folders = listedFolders(
    [
      l("Zeta"),
      l("Clienti/Rossi"),
      l("Clienti"),
      l("Clienti-2020"),
      l("Cestino", ["\\Trash"]),
      l("Bozze", ["\\Drafts"]),
      l("Inviata", ["\\Sent"]),
      l("INBOX"),
    ],
    [],
  );
  assert.deepEqual(
    folders.map((f) => f.path),
    ["INBOX", "Inviata", "Bozze", "Cestino", "Clienti", "Clienti/Rossi", "Clienti-2020", "Zeta"],
  );
});
