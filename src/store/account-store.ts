// The part of the store that account and order administration may use: boxes, domains, administrators
// and the audit log — and nothing that reads a message. accounts/ and the console API are given this
// type, never MailStore, and test/architecture/boundaries.test.ts keeps them from importing anything else
// from store/ (architecture.md: "Admin code has no query that returns message content or headers").
import type { MailStore } from "./mail-store.js";

export type AccountStore = Pick<
  MailStore,
  | "createMailbox"
  | "getMailbox"
  | "getMailboxById"
  | "listMailboxes"
  | "setMailboxState"
  | "setPasswordHash"
  | "updateSettings"
  | "quota"
  | "addDomain"
  | "listDomains"
  | "createAdmin"
  | "getAdmin"
  | "audit"
>;
