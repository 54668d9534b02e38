// The store's public shape: what the servers (IMAP, POP3, SMTP delivery, migration, webmail) may ask of
// it. Two backends (SQLite, PostgreSQL) implement it through one query layer and one contract suite.
//
// Vocabulary: a *mailbox* is a member's PEC box (one address, one password, one quota); a *folder* is
// what IMAP calls a mailbox (INBOX, Sent, …). Folder names are stored as Unicode with "/" as the
// hierarchy separator; the IMAP layer translates to modified UTF-7 (RFC 3501 §5.1.3) on the wire.
import type { MessageBytes } from "./message-bytes.js";

export type MailboxState = "waiting-first-access" | "active" | "deactivated";

export interface MailboxSettings {
  /** What to do with ordinary (non-PEC) mail arriving for this box. */
  ordinaryMail: "refuse" | "accept" | "forward";
  /** Ordinary address for `forward` and for new-mail notifications. */
  forwardTo?: string;
  notifyTo?: string;
  recoveryEmail?: string;
}

export interface Mailbox {
  id: number;
  address: string;
  domain: string;
  passwordHash: string;
  state: MailboxState;
  quotaBytes: number;
  usedBytes: number;
  settings: MailboxSettings;
  createdAt: Date;
}

export type SpecialUse = "\\Sent" | "\\Drafts" | "\\Trash" | "\\Junk" | "\\Archive" | "\\All" | "\\Flagged";

export interface Folder {
  id: number;
  mailboxId: number;
  /** Unicode, "/"-separated, "INBOX" for the inbox. */
  name: string;
  specialUse: SpecialUse | null;
  subscribed: boolean;
  uidValidity: number;
  uidNext: number;
  highestModseq: number;
  /** Number of messages, kept exact by the store. */
  messages: number;
}

/** Header fields extracted once at append time, for list views and search without reading blobs. */
export interface HeaderSummary {
  subject: string | null;
  from: string | null;
  to: string | null;
  cc: string | null;
  date: Date | null;
  messageId: string | null;
  inReplyTo: string | null;
  /** Value of X-Trasporto or X-Ricevuta (pec-rules.md), null for ordinary mail. */
  pecType: string | null;
  /** X-Riferimento-Message-ID: the original message a PEC receipt or envelope refers to. */
  pecRef: string | null;
}

export interface PecMeta {
  /** The transaction's identificativo (daticert `identificativo`), set by whoever parsed the daticert. */
  pecId: string | null;
}

export interface MessageMeta extends HeaderSummary, PecMeta {
  id: number;
  folderId: number;
  uid: number;
  modseq: number;
  /** System flags (\Seen, \Answered, \Flagged, \Deleted, \Draft) and keywords, sorted, no duplicates. */
  flags: string[];
  internalDate: Date;
  size: number;
  /** sha-256 hex of the bytes: the blob's name. */
  blobId: string;
}

export interface AppendInput {
  /** The exact bytes to store, whole or as the chunks they arrived in (message-bytes.ts); never altered. */
  bytes: MessageBytes;
  flags?: string[];
  internalDate?: Date;
  /** PEC identificativo when the caller has read the daticert (delivery point, migration). */
  pecId?: string;
}

export interface AppendedMessage {
  id: number;
  uid: number;
  modseq: number;
  blobId: string;
  size: number;
}

export interface AppendResult {
  folder: Folder;
  messages: AppendedMessage[];
}

export type FlagMode = "add" | "remove" | "replace";

export interface StoreFlagsInput {
  uids: number[];
  mode: FlagMode;
  flags: string[];
  /** CONDSTORE (RFC 7162 §3.1.3): only messages whose modseq is <= this are changed. */
  unchangedSince?: number;
}

export interface StoreFlagsResult {
  /** Messages whose flags changed, with their new flags and modseq. */
  updated: { uid: number; flags: string[]; modseq: number }[];
  /** UIDs that failed the UNCHANGEDSINCE test (RFC 7162 §3.1.3 MODIFIED response). */
  modified: number[];
}

export interface CopyResult {
  uidValidity: number;
  /** Pairs in source order: RFC 4315 COPYUID needs both sets. */
  mapping: { sourceUid: number; targetUid: number }[];
}

export type ChangeKind = "append" | "flags" | "expunge" | "folder-create" | "folder-delete" | "folder-rename";

export interface Change {
  /** Global, strictly increasing position in the change log. */
  id: number;
  mailboxId: number;
  folderId: number;
  kind: ChangeKind;
  modseq: number;
  uid: number | null;
  at: Date;
}

export interface AuditEvent {
  actor: string;
  action: string;
  target?: string;
  details?: Record<string, unknown>;
}

/** Raised for anything the caller did wrong: it maps to NO / 5xx, never to a crash. */
export class StoreError extends Error {
  override name = "StoreError";
  constructor(
    readonly code:
      | "DUPLICATE_ADDRESS"
      | "INVALID_ADDRESS"
      | "NO_SUCH_MAILBOX"
      | "NO_SUCH_FOLDER"
      | "FOLDER_EXISTS"
      | "INVALID_FOLDER_NAME"
      | "OVER_QUOTA"
      | "INVALID_INPUT"
      | "CANNOT_DELETE_INBOX",
    message: string,
  ) {
    super(message);
  }
}
