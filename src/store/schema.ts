// Kysely table types: the database as the query layer sees it. Times are epoch milliseconds (integers)
// so SQLite and PostgreSQL store and compare them the same way.
import type { Generated } from "kysely";

export interface OrdersTable {
  id: Generated<number>;
  name: string;
  created_at: number;
}

export interface DomainsTable {
  domain: string;
  order_id: number | null;
  created_at: number;
}

export interface MailboxesTable {
  id: Generated<number>;
  address: string;
  domain: string;
  password_hash: string;
  state: string;
  quota_bytes: number;
  used_bytes: number;
  settings: string;
  /** Next UIDVALIDITY to hand out: strictly increasing per box, so a recreated folder never reuses one. */
  next_uidvalidity: number;
  created_at: number;
  updated_at: number;
}

export interface FoldersTable {
  id: Generated<number>;
  mailbox_id: number;
  name: string;
  special_use: string | null;
  subscribed: number;
  uidvalidity: number;
  uidnext: number;
  highest_modseq: number;
  message_count: number;
  created_at: number;
}

export interface MessagesTable {
  id: Generated<number>;
  mailbox_id: number;
  folder_id: number;
  uid: number;
  modseq: number;
  flags: string;
  internal_date: number;
  size: number;
  blob_id: string;
  subject: string | null;
  from_addr: string | null;
  to_addrs: string | null;
  cc_addrs: string | null;
  date_header: number | null;
  message_id: string | null;
  in_reply_to: string | null;
  pec_type: string | null;
  pec_ref: string | null;
  pec_id: string | null;
}

export interface BlobsTable {
  id: string;
  size: number;
  created_at: number;
  /** the bytes, for a blob small enough to live in the database; NULL when they are a file */
  data: Buffer | null;
}

export interface ChangesTable {
  id: Generated<number>;
  mailbox_id: number;
  folder_id: number;
  kind: string;
  modseq: number;
  uid: number | null;
  at: number;
}

export interface AdminsTable {
  id: Generated<number>;
  email: string;
  password_hash: string;
  order_id: number | null;
  created_at: number;
}

export interface AuditEventsTable {
  id: Generated<number>;
  at: number;
  actor: string;
  action: string;
  target: string | null;
  details: string | null;
}

export interface Database {
  orders: OrdersTable;
  domains: DomainsTable;
  mailboxes: MailboxesTable;
  folders: FoldersTable;
  messages: MessagesTable;
  blobs: BlobsTable;
  changes: ChangesTable;
  admins: AdminsTable;
  audit_events: AuditEventsTable;
}
