// The folder plan and the source address, as pure tables: no server needed.
import assert from "node:assert/strict";
import { test } from "node:test";
import { parseImapUrl } from "../../src/migration/endpoint.js";
import { MigrationError } from "../../src/migration/errors.js";
import { planFolders, type SourceFolder } from "../../src/migration/folder-map.js";
import { PROVIDER_PRESETS, presetForAddress } from "../../src/migration/presets.js";

function f(path: string, delimiter: string, flags: string[] = [], subscribed = true): SourceFolder {
  return { path, delimiter, flags, subscribed };
}

function targets(folders: SourceFolder[], prefix = ""): Record<string, string> {
  return Object.fromEntries(
    planFolders(folders, { namespacePrefix: prefix }).map((p) => [p.source, p.target]),
  );
}

test("special-use attributes decide first, whatever the folder is called", () => {
  const plan = planFolders([
    f("INBOX", "/"),
    f("Elementi spediti", "/", ["\\Sent"]),
    f("Sent", "/"),
    f("Cartaccia", "/", ["\\Trash"]),
  ]);
  const by = Object.fromEntries(plan.map((p) => [p.source, p]));
  assert.equal(by["Elementi spediti"]!.target, "Sent");
  assert.equal(by["Elementi spediti"]!.specialUse, "\\Sent");
  assert.equal(by["Cartaccia"]!.target, "Trash");
  // A folder merely named Sent does not take the role the attribute already gave.
  assert.equal(by["Sent"]!.specialUse, null);
});

test("Aruba's INBOX. namespace: prefix removed, Italian names mapped, children follow their parent", () => {
  assert.deepEqual(
    targets(
      [
        f("INBOX", "."),
        f("INBOX.Inviata", "."),
        f("INBOX.Inviata.2019", "."),
        f("INBOX.Bozze", "."),
        f("INBOX.Cestino", "."),
        f("INBOX.Posta indesiderata", "."),
        f("INBOX.Clienti", ".", ["\\Noselect", "\\HasChildren"]),
        f("INBOX.Clienti.Rossi/Bianchi", "."),
      ],
      "INBOX.",
    ),
    {
      INBOX: "INBOX",
      "INBOX.Inviata": "Sent",
      "INBOX.Inviata.2019": "Sent/2019",
      "INBOX.Bozze": "Drafts",
      "INBOX.Cestino": "Trash",
      "INBOX.Posta indesiderata": "Junk",
      "INBOX.Clienti": "Clienti",
      "INBOX.Clienti.Rossi/Bianchi": "Clienti/Rossi_Bianchi",
    },
  );
});

test("Legalmail's INBOX/Spedite is Sent, other INBOX children keep their place", () => {
  assert.deepEqual(targets([f("INBOX", "/"), f("INBOX/Spedite", "/"), f("INBOX/Pratiche", "/")]), {
    INBOX: "INBOX",
    "INBOX/Spedite": "Sent",
    "INBOX/Pratiche": "INBOX/Pratiche",
  });
});

test("English and Italian names are recognised; deeper folders with such names are left alone", () => {
  assert.deepEqual(
    targets([
      f("Sent Items", "/"),
      f("Deleted Items", "/"),
      f("Junk E-mail", "/"),
      f("Drafts", "/"),
      f("Progetti/Sent", "/"),
      f("Posta inviata àè", "/"),
    ]),
    {
      "Sent Items": "Sent",
      "Deleted Items": "Trash",
      "Junk E-mail": "Junk",
      Drafts: "Drafts",
      "Progetti/Sent": "Progetti/Sent",
      "Posta inviata àè": "Posta inviata àè",
    },
  );
});

test("\\Noselect parents are planned as folders with nothing to copy; virtual \\All folders are skipped", () => {
  const plan = planFolders([
    f("Archivio", "/", ["\\Noselect"]),
    f("[Gmail]/Tutti i messaggi", "/", ["\\All"]),
  ]);
  assert.equal(plan[0]!.selectable, false);
  assert.equal(plan[0]!.skipped, undefined);
  assert.match(plan[1]!.skipped ?? "", /virtuale/);
});

test("the same folder wins a role by name whatever order the server lists them in: the shallowest first", () => {
  const folders = [f("INBOX", "/"), f("INBOX/Spedite", "/"), f("Sent", "/"), f("Posta inviata", "/")];
  const expected = {
    INBOX: "INBOX",
    "INBOX/Spedite": "INBOX/Spedite",
    Sent: "Sent",
    "Posta inviata": "Posta inviata",
  };
  assert.deepEqual(targets(folders), expected);
  assert.deepEqual(targets([...folders].reverse()), expected);
  assert.deepEqual(targets([folders[0]!, folders[1]!, folders[3]!, folders[2]!]), expected);
});

test("subscriptions travel with the plan", () => {
  const plan = planFolders([f("A", "/", [], true), f("B", "/", [], false)]);
  assert.deepEqual(
    plan.map((p) => p.subscribed),
    [true, false],
  );
});

test("source addresses: imaps with an address as user, imap with STARTTLS, a bare address through a preset", () => {
  assert.deepEqual(parseImapUrl(" imaps://mario.rossi@pec.it@imaps.pec.aruba.it:993 "), {
    host: "imaps.pec.aruba.it",
    port: 993,
    secure: true,
    user: "mario.rossi@pec.it",
  });
  assert.deepEqual(parseImapUrl("imap://src@127.0.0.1:1143"), {
    host: "127.0.0.1",
    port: 1143,
    secure: false,
    user: "src",
  });
  assert.deepEqual(parseImapUrl("mario.rossi@pec.it"), {
    host: "imaps.pec.aruba.it",
    port: 993,
    secure: true,
    user: "mario.rossi@pec.it",
  });
  assert.throws(() => parseImapUrl("http://x"), MigrationError);
  assert.throws(() => parseImapUrl("mario@unknown-provider.example"), /server/);
});

test("the provider presets hold Aruba, Namirial, Legalmail, Poste and Register", () => {
  const hosts = Object.fromEntries(PROVIDER_PRESETS.map((p) => [p.id, `${p.host}:${p.port}`]));
  assert.equal(hosts.aruba, "imaps.pec.aruba.it:993");
  assert.equal(hosts.namirial, "imaps.sicurezzapostale.it:993");
  assert.equal(hosts.legalmail, "mbox.cert.legalmail.it:993");
  assert.ok(hosts.poste && hosts.register);
  assert.equal(presetForAddress("x@legalmail.it")?.id, "legalmail");
});
