// Upgrading a database written by an older version: the schema's migrations run at start-up, once,
// and change nothing a user stored. Here 0005 on a SQLite database that still has the indexes of 0001.
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import Database from "better-sqlite3";
import { openStore } from "../../src/store/open.js";
import { createTempStore } from "../helpers/temp-store.js";

const DROPPED = "messages_blob";

function indexes(path: string): string[] {
  const db = new Database(path, { readonly: true });
  try {
    return (
      db.prepare("select name from sqlite_master where type = 'index' and tbl_name = 'messages'").all() as {
        name: string;
      }[]
    ).map((r) => r.name);
  } finally {
    db.close();
  }
}

test("0005 drops the unread blob index of an older database, keeps the one the mailbox cascade needs, and keeps its messages", async () => {
  const t = await createTempStore("sqlite");
  const path = join(t.dataDir, "domicilio.sqlite");
  try {
    const box = await t.store.createMailbox({
      address: "anna@pec.example.it",
      passwordHash: "x",
      quotaBytes: 1024 ** 3,
      state: "active",
    });
    const inbox = (await t.store.getFolder(box.id, "INBOX"))!;
    await t.store.appendMessages(box.id, inbox.id, [
      { bytes: Buffer.from("From: a@b.it\r\nSubject: prima\r\n\r\nciao\r\n") },
    ]);
    await t.store.close();
    // The database as 0004 left it (the indexes of 0001, no record of 0005), except that the index on
    // the mailbox is missing, as the first version of 0005 left it.
    const db = new Database(path);
    db.exec(`create index "messages_blob" on "messages" ("blob_id");
      drop index if exists "messages_pec_ref";
      delete from "kysely_migration" where "name" = '0005-unread-indexes';`);
    db.close();
    assert.ok(indexes(path).includes(DROPPED), `${DROPPED} is back for the test`);
    assert.ok(!indexes(path).includes("messages_pec_ref"));

    const again = await openStore({
      dataDir: t.dataDir,
      config: { database: { url: "" }, blobs: { path: "blobs", fsync: true, inlineMaxBytes: 65536 } },
    });
    try {
      assert.ok(!indexes(path).includes(DROPPED), `${DROPPED} is dropped`);
      assert.ok(indexes(path).includes("messages_pec_ref"), "the index the mailbox cascade reads is there");
      assert.ok(indexes(path).includes("messages_folder_modseq"), "the indexes queries read stay");
      const kept = await again.listMessages(inbox.id);
      assert.equal(kept.length, 1);
    } finally {
      await again.close();
    }
  } finally {
    rmSync(t.dataDir, { recursive: true, force: true });
  }
});
