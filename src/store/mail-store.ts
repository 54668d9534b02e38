// The MailStore interface: every operation a server performs on boxes, folders and messages. Each call
// is one transaction; change events are emitted only after commit (architecture.md: "Commit, then
// notify"), so a listener that reads the store sees what it was told about.
import type {
  AppendInput,
  AppendResult,
  AuditEvent,
  Change,
  CopyResult,
  Folder,
  Mailbox,
  MailboxSettings,
  MailboxState,
  MessageMeta,
  SpecialUse,
  StoreFlagsInput,
  StoreFlagsResult,
} from "./types.js";

export interface NewMailbox {
  address: string;
  passwordHash: string;
  state?: MailboxState;
  quotaBytes: number;
  settings?: Partial<MailboxSettings>;
}

export interface ChangeEvent {
  mailboxId: number;
  folderId: number;
  /** The committed changes, in order. */
  changes: Change[];
}

export type ChangeListener = (event: ChangeEvent) => void;

export interface ListMessagesOptions {
  /** Inclusive UID range; default: all. */
  fromUid?: number;
  toUid?: number;
  /** Only messages with modseq > changedSince (RFC 7162 CHANGEDSINCE). */
  changedSince?: number;
}

export interface MailStore {
  readonly backend: "sqlite" | "postgres";
  close(): Promise<void>;

  // Boxes
  createMailbox(input: NewMailbox): Promise<Mailbox>;
  getMailbox(address: string): Promise<Mailbox | null>;
  getMailboxById(id: number): Promise<Mailbox | null>;
  listMailboxes(): Promise<Mailbox[]>;
  setMailboxState(id: number, state: MailboxState): Promise<void>;
  setPasswordHash(id: number, passwordHash: string): Promise<void>;
  updateSettings(id: number, settings: Partial<MailboxSettings>): Promise<MailboxSettings>;
  quota(mailboxId: number): Promise<{ usedBytes: number; quotaBytes: number }>;

  // Folders
  listFolders(mailboxId: number): Promise<Folder[]>;
  getFolder(mailboxId: number, name: string): Promise<Folder | null>;
  getFolderById(folderId: number): Promise<Folder | null>;
  createFolder(
    mailboxId: number,
    name: string,
    options?: { specialUse?: SpecialUse | null; subscribed?: boolean },
  ): Promise<Folder>;
  /** Deletes the folder and its messages (RFC 3501 §6.3.4); children are left in place. */
  deleteFolder(mailboxId: number, name: string): Promise<void>;
  /** Renames the folder and every child (RFC 3501 §6.3.5); renaming INBOX moves its messages. */
  renameFolder(mailboxId: number, from: string, to: string): Promise<void>;
  setSubscribed(mailboxId: number, name: string, subscribed: boolean): Promise<void>;

  // Messages
  /** Appends in one transaction: all or none (quota checked for the whole batch). */
  appendMessages(mailboxId: number, folderId: number, inputs: AppendInput[]): Promise<AppendResult>;
  listMessages(folderId: number, options?: ListMessagesOptions): Promise<MessageMeta[]>;
  getMessagesByUid(folderId: number, uids: number[]): Promise<MessageMeta[]>;
  readBlob(blobId: string): Promise<Buffer>;
  storeFlags(folderId: number, input: StoreFlagsInput): Promise<StoreFlagsResult>;
  copyMessages(folderId: number, uids: number[], targetFolderId: number): Promise<CopyResult>;
  /** RFC 6851: copy then expunge from the source, atomically. */
  moveMessages(folderId: number, uids: number[], targetFolderId: number): Promise<CopyResult>;
  /** Removes messages flagged \Deleted (only those in `uids` when given); returns the removed UIDs. */
  expunge(folderId: number, options?: { uids?: number[] }): Promise<number[]>;

  // Change log
  changesSince(mailboxId: number, afterChangeId: number): Promise<Change[]>;
  /** UIDs expunged with modseq > sinceModseq (RFC 7162 §3.2.5 VANISHED). */
  expungedSince(folderId: number, sinceModseq: number): Promise<number[]>;
  onChange(listener: ChangeListener): () => void;

  // Orders, domains, admins, audit
  addDomain(domain: string, orderName?: string): Promise<void>;
  listDomains(): Promise<string[]>;
  createAdmin(email: string, passwordHash: string): Promise<{ id: number; email: string }>;
  getAdmin(email: string): Promise<{ id: number; email: string; passwordHash: string } | null>;
  audit(event: AuditEvent): Promise<void>;
}
