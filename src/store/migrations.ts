// One set of migrations for both backends. Each migration is append-only: never edit one that shipped,
// add the next. The only dialect difference is how an auto-increment key is spelled.
import type { Migration, MigrationProvider } from "kysely";
import { type Kysely, Migrator, sql } from "./kysely.js";

export type Dialect = "sqlite" | "postgres";

function migrations(dialect: Dialect): Record<string, Migration> {
  // SQLite: INTEGER PRIMARY KEY AUTOINCREMENT never reuses an id; PostgreSQL: a bigint identity.
  const idType = dialect === "sqlite" ? "integer" : "bigserial";
  const big = dialect === "sqlite" ? "integer" : "bigint";
  return {
    "0001-initial": {
      async up(db: Kysely<unknown>) {
        const pk = (c: import("kysely").ColumnDefinitionBuilder) =>
          dialect === "sqlite" ? c.primaryKey().autoIncrement() : c.primaryKey();
        await db.schema
          .createTable("orders")
          .addColumn("id", idType, pk)
          .addColumn("name", "text", (c) => c.notNull())
          .addColumn("created_at", big, (c) => c.notNull())
          .execute();
        await db.schema
          .createTable("domains")
          .addColumn("domain", "text", (c) => c.primaryKey())
          .addColumn("order_id", big, (c) => c.references("orders.id"))
          .addColumn("created_at", big, (c) => c.notNull())
          .execute();
        await db.schema
          .createTable("mailboxes")
          .addColumn("id", idType, pk)
          .addColumn("address", "text", (c) => c.notNull().unique())
          .addColumn("domain", "text", (c) => c.notNull())
          .addColumn("password_hash", "text", (c) => c.notNull())
          .addColumn("state", "text", (c) => c.notNull())
          .addColumn("quota_bytes", big, (c) => c.notNull())
          .addColumn("used_bytes", big, (c) => c.notNull().defaultTo(0))
          .addColumn("settings", "text", (c) => c.notNull())
          .addColumn("next_uidvalidity", big, (c) => c.notNull())
          .addColumn("created_at", big, (c) => c.notNull())
          .addColumn("updated_at", big, (c) => c.notNull())
          .addCheckConstraint("mailboxes_used_within_quota", sql`used_bytes >= 0`)
          .execute();
        await db.schema
          .createTable("folders")
          .addColumn("id", idType, pk)
          .addColumn("mailbox_id", big, (c) => c.notNull().references("mailboxes.id").onDelete("cascade"))
          .addColumn("name", "text", (c) => c.notNull())
          .addColumn("special_use", "text")
          .addColumn("subscribed", "integer", (c) => c.notNull().defaultTo(1))
          .addColumn("uidvalidity", big, (c) => c.notNull())
          .addColumn("uidnext", big, (c) => c.notNull().defaultTo(1))
          .addColumn("highest_modseq", big, (c) => c.notNull().defaultTo(1))
          .addColumn("message_count", big, (c) => c.notNull().defaultTo(0))
          .addColumn("created_at", big, (c) => c.notNull())
          .addUniqueConstraint("folders_mailbox_name", ["mailbox_id", "name"])
          .execute();
        await db.schema
          .createTable("blobs")
          .addColumn("id", "text", (c) => c.primaryKey())
          .addColumn("size", big, (c) => c.notNull())
          .addColumn("created_at", big, (c) => c.notNull())
          .execute();
        await db.schema
          .createTable("messages")
          .addColumn("id", idType, pk)
          .addColumn("mailbox_id", big, (c) => c.notNull().references("mailboxes.id").onDelete("cascade"))
          .addColumn("folder_id", big, (c) => c.notNull().references("folders.id").onDelete("cascade"))
          .addColumn("uid", big, (c) => c.notNull())
          .addColumn("modseq", big, (c) => c.notNull())
          .addColumn("flags", "text", (c) => c.notNull())
          .addColumn("internal_date", big, (c) => c.notNull())
          .addColumn("size", big, (c) => c.notNull())
          .addColumn("blob_id", "text", (c) => c.notNull().references("blobs.id"))
          .addColumn("subject", "text")
          .addColumn("from_addr", "text")
          .addColumn("to_addrs", "text")
          .addColumn("cc_addrs", "text")
          .addColumn("date_header", big)
          .addColumn("message_id", "text")
          .addColumn("in_reply_to", "text")
          .addColumn("pec_type", "text")
          .addColumn("pec_ref", "text")
          .addColumn("pec_id", "text")
          .addUniqueConstraint("messages_folder_uid", ["folder_id", "uid"])
          .execute();
        await db.schema
          .createIndex("messages_folder_modseq")
          .on("messages")
          .columns(["folder_id", "modseq"])
          .execute();
        await db.schema.createIndex("messages_blob").on("messages").column("blob_id").execute();
        await db.schema
          .createIndex("messages_pec_ref")
          .on("messages")
          .columns(["mailbox_id", "pec_ref"])
          .execute();
        await db.schema
          .createTable("changes")
          .addColumn("id", idType, pk)
          .addColumn("mailbox_id", big, (c) => c.notNull().references("mailboxes.id").onDelete("cascade"))
          .addColumn("folder_id", big, (c) => c.notNull())
          .addColumn("kind", "text", (c) => c.notNull())
          .addColumn("modseq", big, (c) => c.notNull())
          .addColumn("uid", big)
          .addColumn("at", big, (c) => c.notNull())
          .execute();
        await db.schema
          .createIndex("changes_mailbox_id")
          .on("changes")
          .columns(["mailbox_id", "id"])
          .execute();
        await db.schema
          .createIndex("changes_folder_modseq")
          .on("changes")
          .columns(["folder_id", "modseq"])
          .execute();
        await db.schema
          .createTable("admins")
          .addColumn("id", idType, pk)
          .addColumn("email", "text", (c) => c.notNull().unique())
          .addColumn("password_hash", "text", (c) => c.notNull())
          .addColumn("order_id", big, (c) => c.references("orders.id"))
          .addColumn("created_at", big, (c) => c.notNull())
          .execute();
        await db.schema
          .createTable("audit_events")
          .addColumn("id", idType, pk)
          .addColumn("at", big, (c) => c.notNull())
          .addColumn("actor", "text", (c) => c.notNull())
          .addColumn("action", "text", (c) => c.notNull())
          .addColumn("target", "text")
          .addColumn("details", "text")
          .execute();
      },
    },
    // The PEC service (issue 6): a durable job table (outbox) the transport workers claim with a lease,
    // the transactions and per-recipient states the receipts and timers read, the registro (hash-chained
    // PEC log with signed checkpoints), messages kept apart (virus) and new-mail notification state.
    "0002-pec-service": {
      async up(db: Kysely<unknown>) {
        const pk = (c: import("kysely").ColumnDefinitionBuilder) =>
          dialect === "sqlite" ? c.primaryKey().autoIncrement() : c.primaryKey();
        await db.schema
          .createTable("pec_jobs")
          .addColumn("id", idType, pk)
          .addColumn("kind", "text", (c) => c.notNull())
          .addColumn("job_key", "text", (c) => c.notNull().unique())
          .addColumn("state", "text", (c) => c.notNull())
          .addColumn("run_at", big, (c) => c.notNull())
          .addColumn("lease_until", big)
          .addColumn("lease_token", "text")
          .addColumn("attempts", "integer", (c) => c.notNull().defaultTo(0))
          .addColumn("payload", "text", (c) => c.notNull())
          .addColumn("last_error", "text")
          .addColumn("created_at", big, (c) => c.notNull())
          .addColumn("finished_at", big)
          .execute();
        await db.schema.createIndex("pec_jobs_due").on("pec_jobs").columns(["state", "run_at"]).execute();
        await db.schema
          .createTable("pec_transactions")
          .addColumn("identificativo", "text", (c) => c.primaryKey())
          .addColumn("sender", "text", (c) => c.notNull())
          .addColumn("tx", "text", (c) => c.notNull())
          .addColumn("created_at", big, (c) => c.notNull())
          .execute();
        await db.schema
          .createTable("pec_recipients")
          .addColumn("identificativo", "text", (c) => c.notNull())
          .addColumn("address", "text", (c) => c.notNull())
          .addColumn("tipo", "text", (c) => c.notNull())
          .addColumn("state", "text", (c) => c.notNull())
          .addColumn("updated_at", big, (c) => c.notNull())
          .addPrimaryKeyConstraint("pec_recipients_pk", ["identificativo", "address"])
          .execute();
        await db.schema
          .createTable("pec_log")
          .addColumn("seq", big, (c) => c.primaryKey())
          .addColumn("at", big, (c) => c.notNull())
          .addColumn("event", "text", (c) => c.notNull())
          .addColumn("identificativo", "text")
          .addColumn("msgid", "text")
          .addColumn("sender", "text")
          .addColumn("recipients", "text", (c) => c.notNull())
          .addColumn("subject", "text")
          .addColumn("outcome", "text", (c) => c.notNull())
          .addColumn("prev_hash", "text", (c) => c.notNull())
          .addColumn("hash", "text", (c) => c.notNull())
          .execute();
        await db.schema.createIndex("pec_log_at").on("pec_log").column("at").execute();
        await db.schema
          .createTable("pec_log_head")
          .addColumn("id", "integer", (c) => c.primaryKey())
          .addColumn("seq", big, (c) => c.notNull())
          .addColumn("hash", "text", (c) => c.notNull())
          .execute();
        await db.schema
          .createTable("pec_log_checkpoints")
          .addColumn("seq", big, (c) => c.primaryKey())
          .addColumn("at", big, (c) => c.notNull())
          .addColumn("hash", "text", (c) => c.notNull())
          .addColumn("signature", "text", (c) => c.notNull())
          .addColumn("certificate", "text", (c) => c.notNull())
          .execute();
        await db.schema
          .createTable("pec_quarantine")
          .addColumn("id", idType, pk)
          .addColumn("at", big, (c) => c.notNull())
          .addColumn("keep_until", big, (c) => c.notNull())
          .addColumn("blob_id", "text", (c) => c.notNull())
          .addColumn("identificativo", "text")
          .addColumn("reason", "text", (c) => c.notNull())
          .execute();
        await db.schema
          .createTable("pec_notify")
          .addColumn("mailbox_id", big, (c) => c.primaryKey())
          .addColumn("last_sent_at", big, (c) => c.notNull())
          .execute();
      },
    },
    "0003-inline-blobs": {
      // Small messages' bytes (receipts, most PEC envelopes) kept in the blob's own row: stored in the
      // same durable commit as the rows that point at them, instead of a file, an fsync and a directory
      // fsync each (inline-blob-store.ts). NULL: the bytes are a file of the blob store.
      async up(db: Kysely<unknown>) {
        await db.schema
          .alterTable("blobs")
          .addColumn("data", dialect === "sqlite" ? "blob" : "bytea")
          .execute();
      },
    },
    "0004-log-head": {
      // The registro's head row exists from the start, so that appending to the log is a read and two
      // writes rather than an upsert first every time (transport-store.ts appendLog).
      async up(db: Kysely<unknown>) {
        await sql`insert into pec_log_head (id, seq, hash) values (1, 0, ${"0".repeat(64)}) on conflict (id) do nothing`.execute(
          db,
        );
      },
    },
    "0005-unread-indexes": {
      // messages_blob, of 0001, is read by no query and keyed at random (a content hash): every stored
      // message wrote a leaf page of it somewhere else in the file, a good part of the pages a certified
      // message adds to a commit (bench/pec-service.ts: 5–20% more messages a second without it). Its
      // one other reader is the foreign key to blobs, on a blob's deletion, which nothing does yet: a
      // blob sweep must check references in bulk or bring an index back (docs/pec-service.md).
      // messages_pec_ref stays: it leads with mailbox_id, which the cascade from mailboxes needs. (A
      // first version of this migration dropped it too; it is made again where that one ran.)
      async up(db: Kysely<unknown>) {
        await db.schema.dropIndex("messages_blob").ifExists().execute();
        await db.schema
          .createIndex("messages_pec_ref")
          .ifNotExists()
          .on("messages")
          .columns(["mailbox_id", "pec_ref"])
          .execute();
      },
    },
  };
}

class InCodeProvider implements MigrationProvider {
  constructor(private readonly dialect: Dialect) {}
  async getMigrations(): Promise<Record<string, Migration>> {
    return migrations(this.dialect);
  }
}

/** Brings the schema up to date; safe to run at every start and from several processes in turn. */
export async function migrateToLatest(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  const migrator = new Migrator({ db, provider: new InCodeProvider(dialect) });
  const { error, results } = await migrator.migrateToLatest();
  const failed = results?.find((r) => r.status === "Error");
  if (error || failed) {
    throw new Error(
      `database migration ${failed?.migrationName ?? ""} failed: ${String((error as Error)?.message ?? error)}`,
    );
  }
}
