// The MailStore on kysely: one implementation for SQLite and PostgreSQL. Every operation that changes a
// box is one transaction that also bumps the folder's MODSEQ and appends to the change log; listeners
// hear about it only after commit.
//
// Lock order, to keep concurrent PostgreSQL transactions free of deadlocks: the mailbox row first (quota),
// then folder rows in ascending id.
import { EventEmitter } from "node:events";
import type { Insertable, Kysely, Selectable, Transaction } from "kysely";
import { parseAddress } from "../accounts/addresses.js";
import { summarizeHeaders } from "../mime/header-summary.js";
import type { BlobRef, BlobStore } from "./blob-store.js";
import { applyFlags, decodeFlags, encodeFlags, normalizeFlags } from "./flags.js";
import { isInbox, isSelfOrChild, normalizeFolderName, SEPARATOR } from "./folder-names.js";
import { GroupCommit } from "./group-commit.js";
import * as hot from "./hot-sql.js";
import { InlineBlobStore, type InlineRow } from "./inline-blob-store.js";
import type {
  ChangeEvent,
  ChangeListener,
  ListMessagesOptions,
  MailStore,
  NewMailbox,
} from "./mail-store.js";
import { byteLengthOf, isMessageBytes, type MessageBytes } from "./message-bytes.js";
import type { ChangesTable, Database, FoldersTable, MailboxesTable, MessagesTable } from "./schema.js";
import { type AnyTx, TransportStore } from "./transport-store.js";
import {
  type AppendInput,
  type AppendResult,
  type AuditEvent,
  type Change,
  type ChangeKind,
  type CopyResult,
  type Folder,
  type Mailbox,
  type MailboxSettings,
  type MailboxState,
  type MessageMeta,
  type SpecialUse,
  StoreError,
  type StoreFlagsInput,
  type StoreFlagsResult,
} from "./types.js";

type Tx = Transaction<Database>;
type MessageRow = Selectable<MessagesTable>;

/** Rows per multi-row INSERT or IN list: well under SQLite's 32,766 bound parameters. */
const CHUNK = 400;

export const DEFAULT_FOLDERS: { name: string; specialUse: SpecialUse | null }[] = [
  { name: "INBOX", specialUse: null },
  { name: "Sent", specialUse: "\\Sent" },
  { name: "Drafts", specialUse: "\\Drafts" },
  { name: "Trash", specialUse: "\\Trash" },
  { name: "Junk", specialUse: "\\Junk" },
];

const DEFAULT_SETTINGS: MailboxSettings = { ordinaryMail: "refuse" };
const MAILBOX_STATES: MailboxState[] = ["waiting-first-access", "active", "deactivated"];

/** The columns of a message row, in the order the hot insert binds them (hot-sql.ts). */
const MESSAGE_COLUMNS = [
  "mailbox_id",
  "folder_id",
  "uid",
  "modseq",
  "flags",
  "internal_date",
  "size",
  "blob_id",
  "subject",
  "from_addr",
  "to_addrs",
  "cc_addrs",
  "date_header",
  "message_id",
  "in_reply_to",
  "pec_type",
  "pec_ref",
  "pec_id",
] as const satisfies readonly (keyof Insertable<MessagesTable>)[];
const MESSAGE_COLUMN_LIST = hot.columnList(MESSAGE_COLUMNS);
const CHANGE_COLUMNS = hot.columnList(["mailbox_id", "folder_id", "kind", "modseq", "uid", "at"]);

function chunks<T>(items: readonly T[], size = CHUNK): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

function toMailbox(row: Selectable<MailboxesTable>): Mailbox {
  return {
    id: row.id,
    address: row.address,
    domain: row.domain,
    passwordHash: row.password_hash,
    state: row.state as MailboxState,
    quotaBytes: row.quota_bytes,
    usedBytes: row.used_bytes,
    settings: { ...DEFAULT_SETTINGS, ...(JSON.parse(row.settings) as Partial<MailboxSettings>) },
    createdAt: new Date(row.created_at),
  };
}

function toFolder(row: Selectable<FoldersTable>): Folder {
  return {
    id: row.id,
    mailboxId: row.mailbox_id,
    name: row.name,
    specialUse: row.special_use as SpecialUse | null,
    subscribed: row.subscribed === 1,
    uidValidity: row.uidvalidity,
    uidNext: row.uidnext,
    highestModseq: row.highest_modseq,
    messages: row.message_count,
  };
}

function toMessage(row: MessageRow): MessageMeta {
  return {
    id: row.id,
    folderId: row.folder_id,
    uid: row.uid,
    modseq: row.modseq,
    flags: decodeFlags(row.flags),
    internalDate: new Date(row.internal_date),
    size: row.size,
    blobId: row.blob_id,
    subject: row.subject,
    from: row.from_addr,
    to: row.to_addrs,
    cc: row.cc_addrs,
    date: row.date_header === null ? null : new Date(row.date_header),
    messageId: row.message_id,
    inReplyTo: row.in_reply_to,
    pecType: row.pec_type,
    pecRef: row.pec_ref,
    pecId: row.pec_id,
  };
}

function toChange(r: Selectable<ChangesTable>): Change {
  return {
    id: r.id,
    mailboxId: r.mailbox_id,
    folderId: r.folder_id,
    kind: r.kind as ChangeKind,
    modseq: r.modseq,
    uid: r.uid,
    at: new Date(r.at),
  };
}

function isUniqueViolation(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  return (
    e?.code === "23505" ||
    e?.code === "SQLITE_CONSTRAINT_UNIQUE" ||
    /UNIQUE constraint/.test(e?.message ?? "")
  );
}

/** Blobs stored ahead of the append that references them (stageBlobs), in the order of its inputs. */
export interface StagedBlobs {
  refs: BlobRef[];
  /**
   * Runs inside the transaction that references the blobs (those kept in the database are written
   * there): an append's, or one of the PEC service's (which sees the transport tables too).
   */
  write: (trx: AnyTx) => Promise<void>;
}

/** An append checked and staged outside its transaction (SqlMailStore.prepareAppend). */
interface PreparedAppend {
  mailboxId: number;
  folderId: number;
  items: {
    input: AppendInput;
    flags: string[];
    internalDate: Date;
    summary: ReturnType<typeof summarizeHeaders>;
  }[];
  total: number;
  refs: BlobRef[];
  inline: InlineRow[];
  /** appendMessages' `staged`: written inside the transaction, before the rows that reference it */
  staged?: StagedBlobs;
}

export class SqlMailStore implements MailStore {
  private readonly events = new EventEmitter();

  /** Resolves once every commit of this process is durable (database.ts OpenedDatabase.durable). */
  readonly durable: () => Promise<void>;
  /** Message bytes: small ones in the database, the rest in `files` (inline-blob-store.ts). */
  readonly blobs: BlobStore;
  private readonly inline: InlineBlobStore | null;

  constructor(
    private readonly db: Kysely<Database>,
    readonly backend: "sqlite" | "postgres",
    files: BlobStore,
    private readonly now: () => Date = () => new Date(),
    options: { inlineMaxBytes?: number; durable?: () => Promise<void> } = {},
  ) {
    this.durable = options.durable ?? (() => Promise.resolve());
    this.events.setMaxListeners(0);
    this.group = backend === "sqlite" ? new GroupCommit(db) : null;
    const inlineMax = options.inlineMaxBytes ?? 0;
    this.inline = inlineMax > 0 ? new InlineBlobStore(files, db, (fn) => this.transact(fn), inlineMax) : null;
    this.blobs = this.inline ?? files;
  }

  /** SQLite: shares its COMMIT (one fsync) with the transactions asked for meanwhile (group-commit.ts). */
  private readonly group: GroupCommit<Database> | null;

  /** A write transaction of the PEC hot path (appends, the transport tables). */
  transact<T>(fn: (trx: Tx) => Promise<T>): Promise<T> {
    return this.group ? this.group.run(fn) : this.db.transaction().execute(fn);
  }

  async close(): Promise<void> {
    this.events.removeAllListeners();
    await this.db.destroy();
  }

  // ---------------------------------------------------------------- boxes

  async createMailbox(input: NewMailbox): Promise<Mailbox> {
    const parsed = parseAddress(input.address);
    if (!parsed) throw new StoreError("INVALID_ADDRESS", `invalid address ${JSON.stringify(input.address)}`);
    if (!Number.isSafeInteger(input.quotaBytes) || input.quotaBytes <= 0) {
      throw new StoreError("INVALID_INPUT", "quota must be a positive number of bytes");
    }
    const state = input.state ?? "waiting-first-access";
    if (!MAILBOX_STATES.includes(state)) throw new StoreError("INVALID_INPUT", `invalid state ${state}`);
    const now = this.now().getTime();
    try {
      const id = await this.db.transaction().execute(async (trx) => {
        const existing = await trx
          .selectFrom("mailboxes")
          .select("id")
          .where("address", "=", parsed.address)
          .executeTakeFirst();
        if (existing) throw new StoreError("DUPLICATE_ADDRESS", `a box ${parsed.address} already exists`);
        const row = await trx
          .insertInto("mailboxes")
          .values({
            address: parsed.address,
            domain: parsed.domain,
            password_hash: input.passwordHash,
            state,
            quota_bytes: input.quotaBytes,
            used_bytes: 0,
            settings: JSON.stringify({ ...DEFAULT_SETTINGS, ...input.settings }),
            next_uidvalidity: Math.floor(now / 1000),
            created_at: now,
            updated_at: now,
          })
          .returning("id")
          .executeTakeFirstOrThrow();
        for (const f of DEFAULT_FOLDERS) {
          await this.insertFolder(trx, row.id, f.name, f.specialUse, true);
        }
        return row.id;
      });
      return (await this.getMailboxById(id))!;
    } catch (err) {
      if (isUniqueViolation(err))
        throw new StoreError("DUPLICATE_ADDRESS", `a box ${parsed.address} already exists`);
      throw err;
    }
  }

  async getMailbox(address: string): Promise<Mailbox | null> {
    const [row] = (
      await hot.run<Selectable<MailboxesTable>>(
        this.db,
        this.backend,
        'select * from "mailboxes" where "address" = ?',
        [address.trim().toLowerCase()],
      )
    ).rows;
    return row ? toMailbox(row) : null;
  }

  async getMailboxById(id: number): Promise<Mailbox | null> {
    const row = await this.db.selectFrom("mailboxes").selectAll().where("id", "=", id).executeTakeFirst();
    return row ? toMailbox(row) : null;
  }

  async listMailboxes(): Promise<Mailbox[]> {
    const rows = await this.db.selectFrom("mailboxes").selectAll().orderBy("address").execute();
    return rows.map(toMailbox);
  }

  private async updateMailbox(id: number, values: Partial<Selectable<MailboxesTable>>): Promise<void> {
    const r = await this.db
      .updateTable("mailboxes")
      .set({ ...values, updated_at: this.now().getTime() })
      .where("id", "=", id)
      .executeTakeFirst();
    if (Number(r.numUpdatedRows) === 0) throw new StoreError("NO_SUCH_MAILBOX", `no box with id ${id}`);
  }

  async setMailboxState(id: number, state: MailboxState): Promise<void> {
    if (!MAILBOX_STATES.includes(state)) throw new StoreError("INVALID_INPUT", `invalid state ${state}`);
    await this.updateMailbox(id, { state });
  }

  async setPasswordHash(id: number, passwordHash: string): Promise<void> {
    await this.updateMailbox(id, { password_hash: passwordHash });
  }

  async updateSettings(id: number, settings: Partial<MailboxSettings>): Promise<MailboxSettings> {
    const box = await this.getMailboxById(id);
    if (!box) throw new StoreError("NO_SUCH_MAILBOX", `no box with id ${id}`);
    const merged = { ...box.settings, ...settings };
    await this.updateMailbox(id, { settings: JSON.stringify(merged) });
    return merged;
  }

  async quota(mailboxId: number): Promise<{ usedBytes: number; quotaBytes: number }> {
    const box = await this.getMailboxById(mailboxId);
    if (!box) throw new StoreError("NO_SUCH_MAILBOX", `no box with id ${mailboxId}`);
    return { usedBytes: box.usedBytes, quotaBytes: box.quotaBytes };
  }

  // ---------------------------------------------------------------- folders

  private async insertFolder(
    trx: Tx,
    mailboxId: number,
    name: string,
    specialUse: SpecialUse | null,
    subscribed: boolean,
  ): Promise<Selectable<FoldersTable>> {
    // UIDVALIDITY must differ from any earlier folder of the same name (RFC 3501 §2.3.1.1): a per-box
    // counter, seeded from the clock, never hands out the same value twice.
    const nowSeconds = Math.floor(this.now().getTime() / 1000);
    const box = await trx
      .selectFrom("mailboxes")
      .select("next_uidvalidity")
      .where("id", "=", mailboxId)
      .executeTakeFirst();
    if (!box) throw new StoreError("NO_SUCH_MAILBOX", `no box with id ${mailboxId}`);
    const uidvalidity = Math.max(box.next_uidvalidity, nowSeconds) % 0xffffffff || 1;
    await trx
      .updateTable("mailboxes")
      .set({ next_uidvalidity: uidvalidity + 1 })
      .where("id", "=", mailboxId)
      .execute();
    const created = await trx
      .insertInto("folders")
      .values({
        mailbox_id: mailboxId,
        name,
        special_use: specialUse,
        subscribed: subscribed ? 1 : 0,
        uidvalidity,
        uidnext: 1,
        highest_modseq: 1,
        message_count: 0,
        created_at: this.now().getTime(),
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    return created;
  }

  async listFolders(mailboxId: number): Promise<Folder[]> {
    const rows = await this.db
      .selectFrom("folders")
      .selectAll()
      .where("mailbox_id", "=", mailboxId)
      .orderBy("name")
      .execute();
    return rows.map(toFolder);
  }

  async getFolder(mailboxId: number, name: string): Promise<Folder | null> {
    const [row] = (
      await hot.run<Selectable<FoldersTable>>(
        this.db,
        this.backend,
        'select * from "folders" where "mailbox_id" = ? and "name" = ?',
        [mailboxId, normalizeFolderName(name)],
      )
    ).rows;
    return row ? toFolder(row) : null;
  }

  async getFolderById(folderId: number): Promise<Folder | null> {
    const row = await this.db.selectFrom("folders").selectAll().where("id", "=", folderId).executeTakeFirst();
    return row ? toFolder(row) : null;
  }

  async createFolder(
    mailboxId: number,
    name: string,
    options: { specialUse?: SpecialUse | null; subscribed?: boolean } = {},
  ): Promise<Folder> {
    const normalized = normalizeFolderName(name);
    try {
      const { row, change } = await this.db.transaction().execute(async (trx) => {
        const exists = await trx
          .selectFrom("folders")
          .select("id")
          .where("mailbox_id", "=", mailboxId)
          .where("name", "=", normalized)
          .executeTakeFirst();
        if (exists) throw new StoreError("FOLDER_EXISTS", `folder ${normalized} already exists`);
        const row = await this.insertFolder(
          trx,
          mailboxId,
          normalized,
          options.specialUse ?? null,
          options.subscribed ?? true,
        );
        const change = await this.logChanges(trx, mailboxId, row.id, [
          { kind: "folder-create", modseq: 1, uid: null },
        ]);
        return { row, change };
      });
      this.emit(mailboxId, row.id, change);
      return toFolder(row);
    } catch (err) {
      if (isUniqueViolation(err))
        throw new StoreError("FOLDER_EXISTS", `folder ${normalized} already exists`);
      throw err;
    }
  }

  private async requireFolder(trx: Tx | Kysely<Database>, mailboxId: number, name: string) {
    const row = await trx
      .selectFrom("folders")
      .selectAll()
      .where("mailbox_id", "=", mailboxId)
      .where("name", "=", name)
      .executeTakeFirst();
    if (!row) throw new StoreError("NO_SUCH_FOLDER", `no folder ${name}`);
    return row;
  }

  async deleteFolder(mailboxId: number, name: string): Promise<void> {
    const normalized = normalizeFolderName(name);
    if (isInbox(normalized)) throw new StoreError("CANNOT_DELETE_INBOX", "INBOX cannot be deleted");
    const { folderId, change } = await this.db.transaction().execute(async (trx) => {
      const folder = await this.requireFolder(trx, mailboxId, normalized);
      const freed = await trx
        .selectFrom("messages")
        .select((eb) => eb.fn.coalesce(eb.fn.sum<number>("size"), eb.lit(0)).as("total"))
        .where("folder_id", "=", folder.id)
        .executeTakeFirstOrThrow();
      await trx
        .updateTable("mailboxes")
        .set((eb) => ({ used_bytes: eb("used_bytes", "-", Number(freed.total)) }))
        .where("id", "=", mailboxId)
        .execute();
      await trx.deleteFrom("messages").where("folder_id", "=", folder.id).execute();
      await trx.deleteFrom("folders").where("id", "=", folder.id).execute();
      const change = await this.logChanges(trx, mailboxId, folder.id, [
        { kind: "folder-delete", modseq: folder.highest_modseq + 1, uid: null },
      ]);
      return { folderId: folder.id, change };
    });
    this.emit(mailboxId, folderId, change);
  }

  async renameFolder(mailboxId: number, from: string, to: string): Promise<void> {
    const source = normalizeFolderName(from);
    const target = normalizeFolderName(to);
    if (isSelfOrChild(target, source)) {
      throw new StoreError("INVALID_FOLDER_NAME", `cannot rename ${source} into itself`);
    }
    if (isInbox(source)) {
      // RFC 3501 §6.3.5: renaming INBOX moves its messages to a new folder and leaves INBOX empty.
      const inbox = await this.requireFolder(this.db, mailboxId, "INBOX");
      const created = await this.createFolder(mailboxId, target);
      const uids = (await this.listMessages(inbox.id)).map((m) => m.uid);
      if (uids.length) await this.moveMessages(inbox.id, uids, created.id);
      return;
    }
    const events: { folderId: number; change: Change[] }[] = [];
    await this.db.transaction().execute(async (trx) => {
      const all = await trx.selectFrom("folders").selectAll().where("mailbox_id", "=", mailboxId).execute();
      const moving = all.filter((f) => isSelfOrChild(f.name, source));
      if (moving.length === 0) throw new StoreError("NO_SUCH_FOLDER", `no folder ${source}`);
      const renamed = new Map(moving.map((f) => [f.id, target + f.name.slice(source.length)]));
      const taken = new Set(all.filter((f) => !renamed.has(f.id)).map((f) => f.name));
      for (const name of renamed.values()) {
        if (taken.has(name)) throw new StoreError("FOLDER_EXISTS", `folder ${name} already exists`);
      }
      for (const f of moving) {
        await trx
          .updateTable("folders")
          .set({ name: renamed.get(f.id)! })
          .where("id", "=", f.id)
          .execute();
        events.push({
          folderId: f.id,
          change: await this.logChanges(trx, mailboxId, f.id, [
            { kind: "folder-rename", modseq: f.highest_modseq, uid: null },
          ]),
        });
      }
    });
    for (const e of events) this.emit(mailboxId, e.folderId, e.change);
  }

  async setSubscribed(mailboxId: number, name: string, subscribed: boolean): Promise<void> {
    const normalized = normalizeFolderName(name);
    const r = await this.db
      .updateTable("folders")
      .set({ subscribed: subscribed ? 1 : 0 })
      .where("mailbox_id", "=", mailboxId)
      .where("name", "=", normalized)
      .executeTakeFirst();
    if (Number(r.numUpdatedRows) === 0) throw new StoreError("NO_SUCH_FOLDER", `no folder ${normalized}`);
  }

  // ---------------------------------------------------------------- messages

  /**
   * Reserves `bytes` of the box's quota, failing the whole transaction when it would overflow. A single
   * conditional UPDATE is atomic on both backends, so two concurrent appends cannot both squeeze in.
   */
  private async chargeQuota(trx: Tx, mailboxId: number, bytes: number): Promise<void> {
    const charged = await hot.run(
      trx,
      this.backend,
      'update "mailboxes" set "used_bytes" = "used_bytes" + ? where "id" = ? and "used_bytes" + ? <= "quota_bytes" returning "used_bytes"',
      [bytes, mailboxId, bytes],
    );
    if (charged.rows.length > 0) return;
    const box = await trx
      .selectFrom("mailboxes")
      .select(["used_bytes", "quota_bytes"])
      .where("id", "=", mailboxId)
      .executeTakeFirst();
    if (!box) throw new StoreError("NO_SUCH_MAILBOX", `no box with id ${mailboxId}`);
    throw new StoreError(
      "OVER_QUOTA",
      `quota exceeded: ${box.used_bytes} of ${box.quota_bytes} bytes used, ${bytes} more needed`,
    );
  }

  /** Takes `count` UIDs and `count` modseqs from the folder; returns the first of each. */
  private async allocate(
    trx: Tx,
    mailboxId: number,
    folderId: number,
    count: number,
    messageDelta: number,
  ): Promise<{ firstUid: number; firstModseq: number; folder: Selectable<FoldersTable> }> {
    const [folder] = (
      await hot.run<Selectable<FoldersTable>>(
        trx,
        this.backend,
        'update "folders" set "uidnext" = "uidnext" + ?, "highest_modseq" = "highest_modseq" + ?, "message_count" = "message_count" + ? where "id" = ? and "mailbox_id" = ? returning *',
        [messageDelta > 0 ? count : 0, count, messageDelta, folderId, mailboxId],
      )
    ).rows;
    if (!folder) throw new StoreError("NO_SUCH_FOLDER", `no folder with id ${folderId} in this box`);
    return {
      firstUid: folder.uidnext - (messageDelta > 0 ? count : 0),
      firstModseq: folder.highest_modseq - count + 1,
      folder,
    };
  }

  private async logChanges(
    trx: Tx,
    mailboxId: number,
    folderId: number,
    entries: { kind: ChangeKind; modseq: number; uid: number | null }[],
  ): Promise<Change[]> {
    const at = this.now().getTime();
    const out: Change[] = [];
    for (const part of chunks(entries)) {
      const { rows } = await hot.run<Selectable<ChangesTable>>(
        trx,
        this.backend,
        `insert into "changes" ${CHANGE_COLUMNS} values ${hot.valuesList(part.length, 6)} returning *`,
        part.flatMap((e) => [mailboxId, folderId, e.kind, e.modseq, e.uid, at]),
      );
      out.push(...rows.map(toChange));
    }
    return out;
  }

  /**
   * Announces committed changes once each. A change reaches listeners through whichever path sees it
   * first: the transaction that made it, or the poller of changes made by other processes.
   */
  private emit(mailboxId: number, folderId: number, changes: Change[]): void {
    const fresh = changes.filter((c) => !this.announced.has(c.id));
    if (fresh.length === 0) return;
    for (const c of fresh) this.announced.add(c.id);
    if (this.announced.size > 50_000) {
      const keepFrom = this.pollCursor - 10_000;
      for (const id of this.announced) if (id < keepFrom) this.announced.delete(id);
    }
    const event: ChangeEvent = { mailboxId, folderId, changes: fresh };
    for (const listener of this.events.listeners("change") as ChangeListener[]) {
      try {
        listener(event);
      } catch {
        // A listener's failure must not undo or hide a committed change from the others.
      }
    }
  }

  private readonly announced = new Set<number>();
  private pollCursor = 0;

  /**
   * Follows the change log for changes other processes commit (a `domicilio migrate` run beside `serve`,
   * another node on the same PostgreSQL) and announces them like local ones, so IMAP IDLE sees them.
   * Returns a function that stops following.
   */
  async followExternalChanges(intervalMs = 1000): Promise<() => void> {
    const last = await this.db
      .selectFrom("changes")
      .select((eb) => eb.fn.max("id").as("id"))
      .executeTakeFirst();
    this.pollCursor = Number(last?.id ?? 0);
    let stopped = false;
    let running: Promise<void> | null = null;
    const poll = async () => {
      const rows = await this.db
        .selectFrom("changes")
        .selectAll()
        .where("id", ">", this.pollCursor)
        .orderBy("id")
        .limit(5000)
        .execute();
      if (stopped || rows.length === 0) return;
      this.pollCursor = rows.at(-1)!.id;
      let group: Change[] = [];
      const flush = () => {
        if (group.length) this.emit(group[0]!.mailboxId, group[0]!.folderId, group);
        group = [];
      };
      for (const r of rows) {
        const change = toChange(r);
        const head = group[0];
        if (head && (head.mailboxId !== change.mailboxId || head.folderId !== change.folderId)) flush();
        group.push(change);
      }
      flush();
    };
    const timer = setInterval(() => {
      if (running) return;
      running = poll()
        .catch(() => undefined)
        .finally(() => {
          running = null;
        });
    }, intervalMs);
    timer.unref();
    return () => {
      stopped = true;
      clearInterval(timer);
    };
  }

  private transportStore: TransportStore | null = null;

  /** The PEC service's tables (jobs, transactions, registro) over the same database. */
  transport(): TransportStore {
    this.transportStore ??= new TransportStore(this.db, this.backend, (fn) => this.transact(fn));
    return this.transportStore;
  }

  /** The database, for sibling stores that share it (the PEC service's TransportStore). */
  get kysely(): Kysely<Database> {
    return this.db;
  }

  /**
   * `options.within` runs inside the append's transaction, after the rows are written: the PEC service
   * commits its job bookkeeping with the delivery, so a crash never leaves one without the other.
   */
  async appendMessages(
    mailboxId: number,
    folderId: number,
    inputs: AppendInput[],
    options: { within?: (trx: Tx) => Promise<void>; staged?: StagedBlobs } = {},
  ): Promise<AppendResult> {
    const { staged, ...rest } = options;
    return (
      await this.appendToMany([{ mailboxId, folderId, inputs, ...(staged ? { staged } : {}) }], rest)
    )[0]!;
  }

  /**
   * Appends to several folders, of one box or several, in one transaction: all of them or none. The PEC
   * service delivers a message between two of its boxes this way: the acceptance and the delivery receipt
   * into the sender's box and the envelope into the recipient's, with the job that asked for it.
   * Targets are written in the order given, so UIDs in a folder named twice follow that order.
   */
  async appendToMany(
    targets: {
      mailboxId: number;
      folderId: number;
      inputs: AppendInput[];
      box?: Mailbox;
      staged?: StagedBlobs;
    }[],
    options: { within?: (trx: Tx) => Promise<void> } = {},
  ): Promise<AppendResult[]> {
    const prepared: PreparedAppend[] = [];
    for (const t of targets)
      prepared.push(await this.prepareAppend(t.mailboxId, t.folderId, t.inputs, t.box, t.staged));
    const written = await this.transact(async (trx) => {
      const out = [];
      for (const p of prepared) out.push(await this.writeAppend(trx, p));
      if (options.within) await options.within(trx);
      return out;
    });
    return written.map((w, i) => {
      this.emit(prepared[i]!.mailboxId, prepared[i]!.folderId, w.changes);
      return { folder: toFolder(w.folder), messages: w.messages };
    });
  }

  /** Checks and stages an append before its transaction: parsed headers, quota, blobs made durable. */
  private async prepareAppend(
    mailboxId: number,
    folderId: number,
    inputs: AppendInput[],
    /** the box as the caller just read it: saves reading it again for the early quota check */
    known?: Mailbox,
    /** blobs the caller stored ahead (stageBlobs) */
    staged?: StagedBlobs,
  ): Promise<PreparedAppend> {
    if (inputs.length === 0) throw new StoreError("INVALID_INPUT", "nothing to append");
    const items = inputs.map((input) => {
      if (!isMessageBytes(input.bytes)) throw new StoreError("INVALID_INPUT", "message bytes missing");
      const internalDate = input.internalDate ?? this.now();
      if (Number.isNaN(internalDate.getTime()))
        throw new StoreError("INVALID_INPUT", "invalid internal date");
      return {
        input,
        flags: normalizeFlags(input.flags ?? []),
        internalDate,
        summary: summarizeHeaders(input.bytes),
      };
    });
    const total = inputs.reduce((n, i) => n + byteLengthOf(i.bytes), 0);
    const box = known?.id === mailboxId ? known : await this.getMailboxById(mailboxId);
    if (!box) throw new StoreError("NO_SUCH_MAILBOX", `no box with id ${mailboxId}`);
    // Fail before writing any blob when the batch cannot fit; the transaction below re-checks atomically.
    if (box.usedBytes + total > box.quotaBytes) {
      throw new StoreError(
        "OVER_QUOTA",
        `quota exceeded: ${box.usedBytes} of ${box.quotaBytes} bytes used, ${total} more needed`,
      );
    }
    // Blobs are durable before any row points at them: a crash leaves at worst an unreferenced blob.
    // Small ones are written by the same transaction as their rows (inline-blob-store.ts). `staged`
    // (stageBlobs) did both ahead of this call: the migration writes a batch's blobs while the batch
    // before it commits.
    if (staged) {
      if (
        staged.refs.length !== inputs.length ||
        staged.refs.some((r, i) => r.size !== byteLengthOf(inputs[i]!.bytes))
      )
        throw new StoreError("INVALID_INPUT", "staged blobs do not match the messages");
      return { mailboxId, folderId, items, total, refs: staged.refs, inline: [], staged };
    }
    const { refs, inline } = this.inline
      ? await this.inline.stage(inputs.map((i) => i.bytes))
      : { refs: await this.blobs.putMany(inputs.map((i) => i.bytes)), inline: [] };
    return { mailboxId, folderId, items, total, refs, inline };
  }

  private async writeAppend(trx: Tx, p: PreparedAppend) {
    const { mailboxId, folderId, items, total, refs, inline } = p;
    const now = this.now().getTime();
    await this.chargeQuota(trx, mailboxId, total);
    // Before the blob rows below, which would otherwise claim the staged small blobs' ids without bytes.
    if (p.staged) await p.staged.write(trx);
    const { firstUid, firstModseq, folder } = await this.allocate(
      trx,
      mailboxId,
      folderId,
      items.length,
      items.length,
    );
    // One row per distinct blob, with its bytes when it is small enough to live here.
    const bytesOf = new Map(inline.map((r) => [r.id, r.data]));
    const uniqueBlobs = [...new Map(refs.map((r) => [r.id, r])).values()];
    for (const part of chunks(uniqueBlobs)) {
      await hot.run(
        trx,
        this.backend,
        `insert into "blobs" ("id", "size", "created_at", "data") values ${hot.valuesList(part.length, 4)} on conflict ("id") do nothing`,
        part.flatMap((r) => [r.id, r.size, now, bytesOf.get(r.id) ?? null]),
      );
    }
    const rows = items.map((item, i) => ({
      mailbox_id: mailboxId,
      folder_id: folderId,
      uid: firstUid + i,
      modseq: firstModseq + i,
      flags: encodeFlags(item.flags),
      internal_date: item.internalDate.getTime(),
      size: refs[i]!.size,
      blob_id: refs[i]!.id,
      subject: item.summary.subject,
      from_addr: item.summary.from,
      to_addrs: item.summary.to,
      cc_addrs: item.summary.cc,
      date_header: item.summary.date?.getTime() ?? null,
      message_id: item.summary.messageId,
      in_reply_to: item.summary.inReplyTo,
      pec_type: item.summary.pecType,
      pec_ref: item.summary.pecRef,
      pec_id: item.input.pecId ?? null,
    }));
    const messages = [];
    for (const part of chunks(rows)) {
      const { rows: inserted } = await hot.run<{
        id: number;
        uid: number;
        modseq: number;
        blob_id: string;
        size: number;
      }>(
        trx,
        this.backend,
        `insert into "messages" ${MESSAGE_COLUMN_LIST} values ${hot.valuesList(part.length, MESSAGE_COLUMNS.length)} returning "id", "uid", "modseq", "blob_id", "size"`,
        part.flatMap((r) => MESSAGE_COLUMNS.map((c) => r[c])),
      );
      messages.push(
        ...inserted.map((m) => ({
          id: m.id,
          uid: m.uid,
          modseq: m.modseq,
          blobId: m.blob_id,
          size: m.size,
        })),
      );
    }
    const changes = await this.logChanges(
      trx,
      mailboxId,
      folderId,
      rows.map((r) => ({ kind: "append" as const, modseq: r.modseq, uid: r.uid })),
    );
    return { folder, messages, changes };
  }

  async listMessages(folderId: number, options: ListMessagesOptions = {}): Promise<MessageMeta[]> {
    let q = this.db.selectFrom("messages").selectAll().where("folder_id", "=", folderId);
    if (options.fromUid !== undefined) q = q.where("uid", ">=", options.fromUid);
    if (options.toUid !== undefined) q = q.where("uid", "<=", options.toUid);
    if (options.changedSince !== undefined) q = q.where("modseq", ">", options.changedSince);
    const rows = await q.orderBy("uid").execute();
    return rows.map(toMessage);
  }

  private async rowsByUid(
    trx: Tx | Kysely<Database>,
    folderId: number,
    uids: number[],
  ): Promise<MessageRow[]> {
    const unique = [...new Set(uids)];
    const out: MessageRow[] = [];
    for (const part of chunks(unique)) {
      out.push(
        ...(await trx
          .selectFrom("messages")
          .selectAll()
          .where("folder_id", "=", folderId)
          .where("uid", "in", part)
          .execute()),
      );
    }
    return out.sort((a, b) => a.uid - b.uid);
  }

  async getMessagesByUid(folderId: number, uids: number[]): Promise<MessageMeta[]> {
    if (uids.length === 0) return [];
    return (await this.rowsByUid(this.db, folderId, uids)).map(toMessage);
  }

  /**
   * Stores blobs to be referenced by a transaction the caller is about to run: large ones are durable
   * files when this resolves, small ones are written by `write(trx)` inside that transaction, so they
   * become durable with (and only with) the rows that point at them.
   */
  async stageBlobs(items: readonly MessageBytes[]): Promise<StagedBlobs> {
    if (!this.inline) return { refs: await this.blobs.putMany(items), write: async () => {} };
    const { refs, inline } = await this.inline.stage(items);
    return {
      refs,
      write: (trx) => this.inline!.insertInline(trx as Tx, inline, this.now().getTime()),
    };
  }

  /** How many blobs live in the database (the rest are files): for metrics and tests. */
  async blobCounts(): Promise<{ inline: number; inlineBytes: number }> {
    const r = await this.db
      .selectFrom("blobs")
      .select((eb) => [eb.fn.countAll<number>().as("n"), eb.fn.sum<number>("size").as("bytes")])
      .where("data", "is not", null)
      .executeTakeFirst();
    return { inline: Number(r?.n ?? 0), inlineBytes: Number(r?.bytes ?? 0) };
  }

  readBlob(blobId: string): Promise<Buffer> {
    return this.blobs.get(blobId);
  }

  /**
   * Locks, on PostgreSQL, the rows a write will change before it reads the messages it acts on: the box
   * (when quota moves) and then the folders in ascending id, the one order every transaction here uses.
   * SQLite needs none of it: its single writer already serialises transactions.
   */
  private async lockFolders(
    trx: Tx,
    folderIds: number[],
    options: { mailbox: boolean },
  ): Promise<Map<number, Selectable<FoldersTable>>> {
    const ids = [...new Set(folderIds)].sort((a, b) => a - b);
    const first = await trx
      .selectFrom("folders")
      .select("mailbox_id")
      .where("id", "=", ids[0]!)
      .executeTakeFirst();
    if (!first) throw new StoreError("NO_SUCH_FOLDER", `no folder with id ${ids[0]}`);
    const pg = this.backend === "postgres";
    if (pg && options.mailbox) {
      await trx.selectFrom("mailboxes").select("id").where("id", "=", first.mailbox_id).forUpdate().execute();
    }
    const out = new Map<number, Selectable<FoldersTable>>();
    for (const id of ids) {
      const q = trx.selectFrom("folders").selectAll().where("id", "=", id);
      const row = await (pg ? q.forUpdate() : q).executeTakeFirst();
      if (!row) throw new StoreError("NO_SUCH_FOLDER", `no folder with id ${id}`);
      out.set(id, row);
    }
    return out;
  }

  private async folderOwner(
    trx: Tx,
    folderId: number,
    options = { mailbox: false },
  ): Promise<Selectable<FoldersTable>> {
    return (await this.lockFolders(trx, [folderId], options)).get(folderId)!;
  }

  async storeFlags(folderId: number, input: StoreFlagsInput): Promise<StoreFlagsResult> {
    const flags = normalizeFlags(input.flags);
    const { result, mailboxId, changes } = await this.db.transaction().execute(async (trx) => {
      const folder = await this.folderOwner(trx, folderId);
      const rows = input.uids.length ? await this.rowsByUid(trx, folderId, input.uids) : [];
      const modified: number[] = [];
      const pending: { row: MessageRow; flags: string[] }[] = [];
      for (const row of rows) {
        // RFC 7162 §3.1.3: a message changed since UNCHANGEDSINCE is reported, not touched.
        if (input.unchangedSince !== undefined && row.modseq > input.unchangedSince) {
          modified.push(row.uid);
          continue;
        }
        const current = decodeFlags(row.flags);
        const next = applyFlags(current, input.mode, flags);
        if (encodeFlags(next) !== row.flags) pending.push({ row, flags: next });
      }
      if (pending.length === 0)
        return { result: { updated: [], modified }, mailboxId: folder.mailbox_id, changes: [] };
      const { firstModseq } = await this.allocate(trx, folder.mailbox_id, folderId, pending.length, 0);
      const updated = pending.map((p, i) => ({
        uid: p.row.uid,
        flags: p.flags,
        modseq: firstModseq + i,
        id: p.row.id,
      }));
      for (const u of updated) {
        await trx
          .updateTable("messages")
          .set({ flags: encodeFlags(u.flags), modseq: u.modseq })
          .where("id", "=", u.id)
          .execute();
      }
      const changes = await this.logChanges(
        trx,
        folder.mailbox_id,
        folderId,
        updated.map((u) => ({ kind: "flags" as const, modseq: u.modseq, uid: u.uid })),
      );
      return {
        result: { updated: updated.map(({ uid, flags, modseq }) => ({ uid, flags, modseq })), modified },
        mailboxId: folder.mailbox_id,
        changes,
      };
    });
    this.emit(mailboxId, folderId, changes);
    return result;
  }

  private async copyRows(
    trx: Tx,
    rows: MessageRow[],
    target: Selectable<FoldersTable>,
  ): Promise<{ mapping: CopyResult["mapping"]; changes: Change[] }> {
    const { firstUid, firstModseq } = await this.allocate(
      trx,
      target.mailbox_id,
      target.id,
      rows.length,
      rows.length,
    );
    const values = rows.map((r, i) => {
      const { id: _id, ...rest } = r;
      return {
        ...rest,
        folder_id: target.id,
        mailbox_id: target.mailbox_id,
        uid: firstUid + i,
        modseq: firstModseq + i,
      };
    });
    for (const part of chunks(values)) await trx.insertInto("messages").values(part).execute();
    const changes = await this.logChanges(
      trx,
      target.mailbox_id,
      target.id,
      values.map((v) => ({ kind: "append" as const, modseq: v.modseq, uid: v.uid })),
    );
    return { mapping: rows.map((r, i) => ({ sourceUid: r.uid, targetUid: firstUid + i })), changes };
  }

  private async removeRows(trx: Tx, folder: Selectable<FoldersTable>, rows: MessageRow[]): Promise<Change[]> {
    const { firstModseq } = await this.allocate(trx, folder.mailbox_id, folder.id, rows.length, -rows.length);
    for (const part of chunks(rows.map((r) => r.id))) {
      await trx.deleteFrom("messages").where("id", "in", part).execute();
    }
    // The change rows are the tombstones QRESYNC's VANISHED (RFC 7162 §3.2.10) is computed from.
    return this.logChanges(
      trx,
      folder.mailbox_id,
      folder.id,
      rows.map((r, i) => ({ kind: "expunge" as const, modseq: firstModseq + i, uid: r.uid })),
    );
  }

  private async transfer(
    folderId: number,
    uids: number[],
    targetFolderId: number,
    move: boolean,
  ): Promise<CopyResult> {
    const out = await this.db.transaction().execute(async (trx) => {
      const locked = await this.lockFolders(trx, [folderId, targetFolderId], { mailbox: !move });
      const source = locked.get(folderId)!;
      const target = locked.get(targetFolderId)!;
      if (source.mailbox_id !== target.mailbox_id)
        throw new StoreError("INVALID_INPUT", "folders of different boxes");
      const rows = await this.rowsByUid(trx, folderId, uids);
      if (rows.length === 0) return { result: { uidValidity: target.uidvalidity, mapping: [] }, events: [] };
      if (!move)
        await this.chargeQuota(
          trx,
          source.mailbox_id,
          rows.reduce((n, r) => n + r.size, 0),
        );
      // Lock order: folders by ascending id.
      let copied: Awaited<ReturnType<SqlMailStore["copyRows"]>>;
      let removed: Change[] = [];
      if (move && source.id < target.id) {
        removed = await this.removeRows(trx, source, rows);
        copied = await this.copyRows(trx, rows, target);
      } else {
        copied = await this.copyRows(trx, rows, target);
        if (move) removed = await this.removeRows(trx, source, rows);
      }
      return {
        result: { uidValidity: target.uidvalidity, mapping: copied.mapping },
        events: [
          { mailboxId: target.mailbox_id, folderId: target.id, changes: copied.changes },
          { mailboxId: source.mailbox_id, folderId: source.id, changes: removed },
        ],
      };
    });
    for (const e of out.events) this.emit(e.mailboxId, e.folderId, e.changes);
    return out.result;
  }

  copyMessages(folderId: number, uids: number[], targetFolderId: number): Promise<CopyResult> {
    return this.transfer(folderId, uids, targetFolderId, false);
  }

  moveMessages(folderId: number, uids: number[], targetFolderId: number): Promise<CopyResult> {
    return this.transfer(folderId, uids, targetFolderId, true);
  }

  async expunge(folderId: number, options: { uids?: number[] } = {}): Promise<number[]> {
    const out = await this.db.transaction().execute(async (trx) => {
      const folder = await this.folderOwner(trx, folderId, { mailbox: true });
      const candidates = options.uids
        ? await this.rowsByUid(trx, folderId, options.uids)
        : await trx
            .selectFrom("messages")
            .selectAll()
            .where("folder_id", "=", folderId)
            .orderBy("uid")
            .execute();
      const rows = candidates.filter((r) => decodeFlags(r.flags).includes("\\Deleted"));
      if (rows.length === 0) return { uids: [], changes: [], mailboxId: folder.mailbox_id };
      const freed = rows.reduce((n, r) => n + r.size, 0);
      await trx
        .updateTable("mailboxes")
        .set((eb) => ({ used_bytes: eb("used_bytes", "-", freed) }))
        .where("id", "=", folder.mailbox_id)
        .execute();
      const changes = await this.removeRows(trx, folder, rows);
      return { uids: rows.map((r) => r.uid), changes, mailboxId: folder.mailbox_id };
    });
    this.emit(out.mailboxId, folderId, out.changes);
    return out.uids;
  }

  // ---------------------------------------------------------------- change log

  async changesSince(mailboxId: number, afterChangeId: number): Promise<Change[]> {
    const rows = await this.db
      .selectFrom("changes")
      .selectAll()
      .where("mailbox_id", "=", mailboxId)
      .where("id", ">", afterChangeId)
      .orderBy("id")
      .limit(10_000)
      .execute();
    return rows.map(toChange);
  }

  async expungedSince(folderId: number, sinceModseq: number): Promise<number[]> {
    const rows = await this.db
      .selectFrom("changes")
      .select("uid")
      .where("folder_id", "=", folderId)
      .where("kind", "=", "expunge")
      .where("modseq", ">", sinceModseq)
      .orderBy("uid")
      .execute();
    return rows.map((r) => r.uid!).filter((u) => u !== null);
  }

  onChange(listener: ChangeListener): () => void {
    this.events.on("change", listener);
    return () => this.events.off("change", listener);
  }

  // ---------------------------------------------------------------- orders, domains, admins, audit

  async addDomain(domain: string, orderName?: string): Promise<void> {
    const name = domain.trim().toLowerCase();
    const now = this.now().getTime();
    await this.db.transaction().execute(async (trx) => {
      if (await trx.selectFrom("domains").select("domain").where("domain", "=", name).executeTakeFirst())
        return;
      let orderId: number | null = null;
      if (orderName) {
        const order =
          (await trx.selectFrom("orders").select("id").where("name", "=", orderName).executeTakeFirst()) ??
          (await trx
            .insertInto("orders")
            .values({ name: orderName, created_at: now })
            .returning("id")
            .executeTakeFirstOrThrow());
        orderId = order.id;
      }
      await trx.insertInto("domains").values({ domain: name, order_id: orderId, created_at: now }).execute();
    });
  }

  async listDomains(): Promise<string[]> {
    return (await this.db.selectFrom("domains").select("domain").orderBy("domain").execute()).map(
      (r) => r.domain,
    );
  }

  async createAdmin(email: string, passwordHash: string): Promise<{ id: number; email: string }> {
    const parsed = parseAddress(email);
    if (!parsed) throw new StoreError("INVALID_ADDRESS", `invalid address ${JSON.stringify(email)}`);
    try {
      const row = await this.db
        .insertInto("admins")
        .values({
          email: parsed.address,
          password_hash: passwordHash,
          order_id: null,
          created_at: this.now().getTime(),
        })
        .returning(["id", "email"])
        .executeTakeFirstOrThrow();
      return row;
    } catch (err) {
      if (isUniqueViolation(err))
        throw new StoreError("DUPLICATE_ADDRESS", `an administrator ${parsed.address} already exists`);
      throw err;
    }
  }

  async getAdmin(email: string): Promise<{ id: number; email: string; passwordHash: string } | null> {
    const row = await this.db
      .selectFrom("admins")
      .select(["id", "email", "password_hash"])
      .where("email", "=", email.trim().toLowerCase())
      .executeTakeFirst();
    return row ? { id: row.id, email: row.email, passwordHash: row.password_hash } : null;
  }

  async audit(event: AuditEvent): Promise<void> {
    await this.db
      .insertInto("audit_events")
      .values({
        at: this.now().getTime(),
        actor: event.actor,
        action: event.action,
        target: event.target ?? null,
        details: event.details ? JSON.stringify(event.details) : null,
      })
      .execute();
  }
}

export { SEPARATOR };
