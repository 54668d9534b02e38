// Where migrated messages go. Two kinds behind one interface:
//   - StoreTarget: a Domicilio box, written through the MailStore directly (no IMAP APPEND on our side;
//     a batch is one transaction, blobs are content-addressed so the target's hash is the blob id);
//   - ImapTarget: any IMAP server (APPEND with flags and INTERNALDATE, RFC 3501 §6.3.11; UIDPLUS,
//     RFC 4315, for the new UIDs), for an order whose new provider is not Domicilio.
import { createHash } from "node:crypto";
import { createRequire } from "node:module";
import { isIP } from "node:net";
import type { ImapFlow } from "imapflow";
import { joinBytes, type MessageBytes } from "../store/message-bytes.js";
import type { SqlMailStore, StagedBlobs } from "../store/sql-mail-store.js";
import type { SpecialUse } from "../store/types.js";
import { classifyConnectError, MigrationError } from "./errors.js";
import type { PlannedFolder } from "./folder-map.js";

export interface TargetMessage {
  uid: number;
  /** sha-256 hex of the bytes, or null when the target cannot tell without reading them. */
  hash: string | null;
  flags: string[];
  size?: number;
}

export interface TargetFolderState {
  uidValidity: number;
  messages: TargetMessage[];
}

export interface AppendItem {
  /** Whole, or the chunks the source sent (message-bytes.ts). */
  bytes: MessageBytes;
  /** The bytes' length. */
  size: number;
  flags: string[];
  internalDate: Date;
}

/** What `stage` returns, opaque to the engine. */
export type Staged = { readonly staged: unknown };

/** One worker's handle on the target (an IMAP target gives each its own connection). */
export interface TargetSession {
  /** null when the folder does not exist yet. */
  listFolder(name: string): Promise<TargetFolderState | null>;
  hashes(name: string, uids: number[]): Promise<Map<number, string>>;
  /**
   * Optional: makes a batch's bytes durable ahead of its append, so that this slow part (a Domicilio
   * box fsyncs a file per message) runs beside the other batches instead of in the folder's commit
   * order. The result is passed to `append` with the same items; append works without it too.
   */
  stage?(items: AppendItem[]): Promise<Staged>;
  /**
   * All or nothing for a store; returns the target UIDs in input order and the folder's UIDVALIDITY.
   * `written` is called once the rows hold their UIDs in the folder's order (inside the store's
   * transaction, or after the last APPEND): a later append to the folder gets higher UIDs from then
   * on, without waiting for this one's durable commit.
   */
  append(
    name: string,
    items: AppendItem[],
    staged?: Staged,
    written?: () => void,
  ): Promise<{ uidValidity: number; uids: number[] }>;
  setFlags(name: string, uids: number[], flags: string[]): Promise<void>;
  remove(name: string, uids: number[]): Promise<void>;
  release(): Promise<void>;
}

export interface MigrationTarget {
  /** Stable identity for the ledger. */
  readonly id: string;
  readonly label: string;
  /** True when the target hashes what it stores (verification needs no second read). */
  readonly hashesContent: boolean;
  open(): Promise<void>;
  /** Free bytes under the quota, or null when unknown/unlimited. */
  freeBytes(): Promise<number | null>;
  /** Creates the planned folders (special folders reuse the box's own ones); returns plan target → name. */
  ensureFolders(plan: PlannedFolder[]): Promise<Map<string, string>>;
  /** Resolves plan targets to existing names without creating anything (for the preparation phase). */
  resolveNames(plan: PlannedFolder[]): Promise<Map<string, string>>;
  session(): Promise<TargetSession>;
  close(): Promise<void>;
}

/** A Domicilio box in the store. */
export class StoreTarget implements MigrationTarget {
  readonly hashesContent = true;
  readonly id: string;
  readonly label: string;
  private mailboxId = 0;
  private folderIds = new Map<string, number>();

  constructor(
    private readonly store: SqlMailStore,
    private readonly address: string,
  ) {
    this.id = `store:${address.toLowerCase()}`;
    this.label = address;
  }

  async open(): Promise<void> {
    const box = await this.store.getMailbox(this.address);
    if (!box) {
      throw new MigrationError(
        "TARGET_NOT_FOUND",
        `La casella ${this.address} non esiste in questo Domicilio: creala prima (domicilio mailbox add).`,
      );
    }
    this.mailboxId = box.id;
  }

  async freeBytes(): Promise<number | null> {
    const q = await this.store.quota(this.mailboxId);
    return Math.max(0, q.quotaBytes - q.usedBytes);
  }

  async resolveNames(plan: PlannedFolder[]): Promise<Map<string, string>> {
    const existing = await this.store.listFolders(this.mailboxId);
    const out = new Map<string, string>();
    for (const p of plan) {
      const bySpecial = p.specialUse ? existing.find((f) => f.specialUse === p.specialUse) : undefined;
      out.set(p.target, bySpecial?.name ?? p.target);
    }
    return out;
  }

  async ensureFolders(plan: PlannedFolder[]): Promise<Map<string, string>> {
    const names = await this.resolveNames(plan);
    const existing = new Set((await this.store.listFolders(this.mailboxId)).map((f) => f.name));
    // Parents first, so a store that wants them finds them.
    const todo = [...plan]
      .filter((p) => !p.skipped)
      .sort((a, b) => a.target.split("/").length - b.target.split("/").length);
    for (const p of todo) {
      const name = names.get(p.target)!;
      if (existing.has(name)) continue;
      await this.store.createFolder(this.mailboxId, name, {
        specialUse: p.specialUse as SpecialUse | null,
        subscribed: p.subscribed,
      });
      existing.add(name);
    }
    for (const f of await this.store.listFolders(this.mailboxId)) this.folderIds.set(f.name, f.id);
    return names;
  }

  private async folderId(name: string): Promise<number | null> {
    const cached = this.folderIds.get(name);
    if (cached) return cached;
    const f = await this.store.getFolder(this.mailboxId, name);
    if (f) this.folderIds.set(name, f.id);
    return f?.id ?? null;
  }

  async session(): Promise<TargetSession> {
    const store = this.store;
    const mailboxId = this.mailboxId;
    const folderId = async (name: string) => {
      const id = await this.folderId(name);
      if (!id) throw new MigrationError("INTERNAL", `cartella ${name} mancante nella casella`);
      return id;
    };
    return {
      listFolder: async (name) => {
        const id = await this.folderId(name);
        if (!id) return null;
        const f = await store.getFolderById(id);
        const msgs = await store.listMessages(id);
        return {
          uidValidity: f!.uidValidity,
          messages: msgs.map((m) => ({ uid: m.uid, hash: m.blobId, flags: m.flags, size: m.size })),
        };
      },
      hashes: async (name, uids) => {
        const msgs = await store.getMessagesByUid(await folderId(name), uids);
        return new Map(msgs.map((m) => [m.uid, m.blobId]));
      },
      stage: async (items) => ({ staged: await store.stageBlobs(items.map((i) => i.bytes)) }),
      append: async (name, items, staged, written) => {
        const res = await store.appendMessages(
          mailboxId,
          await folderId(name),
          items.map((i) => ({ bytes: i.bytes, flags: i.flags, internalDate: i.internalDate })),
          {
            ...(staged ? { staged: staged.staged as StagedBlobs } : {}),
            // Runs after the rows are written (UIDs allocated, folder row locked on PostgreSQL): a
            // transaction asked for after this one is queued behind it (SQLite's group commit) or
            // waits for its lock (PostgreSQL), so it gets the higher UIDs.
            ...(written ? { within: async () => written() } : {}),
          },
        );
        return {
          uidValidity: res.folder.uidValidity,
          uids: res.messages.map((m) => m.uid),
        };
      },
      setFlags: async (name, uids, flags) => {
        await store.storeFlags(await folderId(name), { uids, mode: "replace", flags });
      },
      remove: async (name, uids) => {
        const id = await folderId(name);
        await store.storeFlags(id, { uids, mode: "add", flags: ["\\Deleted"] });
        await store.expunge(id, { uids });
      },
      release: async () => {},
    };
  }

  async close(): Promise<void> {}
}

export interface ImapEndpoint {
  host: string;
  port: number;
  secure: boolean;
  user: string;
  password: string;
  insecureTls?: boolean;
}

/**
 * imapflow's CommonJS build: the same code as its ES module build, loaded in about half the time (its ES
 * build is 56 modules resolved and read one by one through the ES loader, plus its CommonJS dependencies:
 * 0.2–0.3 s of a `domicilio migrate` start-up on this machine). Only this file constructs clients, so no
 * object of the other build ever meets these (the rest of src/ imports imapflow's types only). Loaded at
 * the first client, not with this file: a copy into a box here reads the old box from the source thread
 * (source-prepare.ts), and the main thread then never needs imapflow (0.1 s of its start-up).
 */
let imapFlowClass: typeof import("imapflow").ImapFlow | null = null;

export function newImapClient(ep: ImapEndpoint): ImapFlow {
  imapFlowClass ??= (createRequire(import.meta.url)("imapflow") as typeof import("imapflow")).ImapFlow;
  return new imapFlowClass({
    host: ep.host,
    port: ep.port,
    secure: ep.secure,
    auth: { user: ep.user, pass: ep.password },
    logger: false,
    disableAutoIdle: true,
    // SNI only for names (RFC 6066 §3 forbids IP literals).
    tls: { rejectUnauthorized: !ep.insecureTls, ...(isIP(ep.host) ? {} : { servername: ep.host }) },
    connectionTimeout: 30_000,
    greetingTimeout: 30_000,
    socketTimeout: 10 * 60_000,
  } as ConstructorParameters<typeof import("imapflow").ImapFlow>[0]);
}

/** Any IMAP server as the target. */
export class ImapTarget implements MigrationTarget {
  readonly hashesContent = false;
  readonly id: string;
  readonly label: string;
  private control: ImapFlow | null = null;
  private delimiter = "/";
  private prefix = "";
  private sessions: ImapFlow[] = [];

  constructor(private readonly ep: ImapEndpoint) {
    this.id = `imap://${ep.user.toLowerCase()}@${ep.host}:${ep.port}`;
    this.label = `${ep.user} su ${ep.host}:${ep.port}`;
  }

  private async connect(): Promise<ImapFlow> {
    const c = newImapClient(this.ep);
    c.on("error", () => {});
    try {
      await c.connect();
    } catch (err) {
      throw classifyConnectError(err, `${this.ep.host}:${this.ep.port} (destinazione)`);
    }
    return c;
  }

  async open(): Promise<void> {
    this.control = await this.connect();
    const ns = (
      this.control as unknown as { namespaces?: { personal?: { prefix: string; delimiter: string }[] } }
    ).namespaces;
    this.prefix = ns?.personal?.[0]?.prefix ?? "";
    this.delimiter = ns?.personal?.[0]?.delimiter ?? "/";
  }

  private path(name: string): string {
    if (name === "INBOX") return "INBOX";
    return this.prefix + name.split("/").join(this.delimiter);
  }

  async freeBytes(): Promise<number | null> {
    try {
      const q = await this.control!.getQuota("INBOX");
      if (q !== false && q.storage && typeof q.storage.limit === "number") {
        return Math.max(0, q.storage.limit - (q.storage.usage ?? 0));
      }
    } catch {
      // no QUOTA extension (RFC 9208): unknown
    }
    return null;
  }

  async resolveNames(plan: PlannedFolder[]): Promise<Map<string, string>> {
    const list = await this.control!.list();
    const out = new Map<string, string>();
    for (const p of plan) {
      const bySpecial = p.specialUse
        ? list.find((f) => [...f.flags].includes(p.specialUse!) || f.specialUse === p.specialUse)
        : undefined;
      out.set(p.target, bySpecial ? this.unpath(bySpecial.path, bySpecial.delimiter) : p.target);
    }
    return out;
  }

  private unpath(path: string, delimiter: string): string {
    if (path.toUpperCase() === "INBOX") return "INBOX";
    const rel = this.prefix && path.startsWith(this.prefix) ? path.slice(this.prefix.length) : path;
    return rel.split(delimiter || "/").join("/");
  }

  async ensureFolders(plan: PlannedFolder[]): Promise<Map<string, string>> {
    const names = await this.resolveNames(plan);
    const existing = new Set((await this.control!.list()).map((f) => this.unpath(f.path, f.delimiter)));
    for (const p of plan) {
      if (p.skipped) continue;
      const name = names.get(p.target)!;
      if (!existing.has(name)) {
        await this.control!.mailboxCreate(this.path(name));
        existing.add(name);
      }
      if (p.subscribed) await this.control!.mailboxSubscribe(this.path(name));
    }
    return names;
  }

  async session(): Promise<TargetSession> {
    const c = await this.connect();
    this.sessions.push(c);
    const withBox = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
      const lock = await c.getMailboxLock(this.path(name));
      try {
        return await fn();
      } finally {
        lock.release();
      }
    };
    return {
      listFolder: async (name) => {
        let lock: Awaited<ReturnType<ImapFlow["getMailboxLock"]>>;
        try {
          lock = await c.getMailboxLock(this.path(name), { readOnly: true });
        } catch {
          return null;
        }
        try {
          const box = c.mailbox;
          if (!box) return null;
          const messages: TargetMessage[] = [];
          if (box.exists > 0) {
            for await (const m of c.fetch("1:*", { uid: true, flags: true, size: true })) {
              messages.push({ uid: m.uid, hash: null, flags: [...(m.flags ?? [])], size: m.size ?? 0 });
            }
          }
          return { uidValidity: Number(box.uidValidity), messages };
        } finally {
          lock.release();
        }
      },
      hashes: async (name, uids) => {
        const out = new Map<number, string>();
        if (uids.length === 0) return out;
        await withBox(name, async () => {
          for await (const m of c.fetch(uids.join(","), { uid: true, source: true }, { uid: true })) {
            out.set(m.uid, createHash("sha256").update(m.source!).digest("hex"));
          }
        });
        return out;
      },
      append: async (name, items, _staged, written) => {
        const uids: number[] = [];
        let uidValidity = 0;
        for (const it of items) {
          const res = await c.append(this.path(name), joinBytes(it.bytes), it.flags, it.internalDate);
          if (res === false || !res.uid) {
            throw new MigrationError(
              "INTERNAL",
              `il server di destinazione non riporta l'UID (manca UIDPLUS)`,
            );
          }
          uids.push(res.uid);
          uidValidity = Number(res.uidValidity ?? uidValidity);
        }
        written?.();
        return { uidValidity, uids };
      },
      setFlags: async (name, uids, flags) => {
        if (uids.length === 0) return;
        await withBox(name, async () => {
          await c.messageFlagsSet(uids.join(","), flags, { uid: true });
        });
      },
      remove: async (name, uids) => {
        if (uids.length === 0) return;
        await withBox(name, async () => {
          await c.messageDelete(uids.join(","), { uid: true });
        });
      },
      release: async () => {
        await c.logout().catch(() => {});
      },
    };
  }

  async close(): Promise<void> {
    for (const s of this.sessions) await s.logout().catch(() => {});
    await this.control?.logout().catch(() => {});
  }
}
