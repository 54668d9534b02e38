// Folder names between the wire and the store: modified UTF-7 (RFC 3501 §5.1.3), or UTF-8 once the
// client has enabled UTF8=ACCEPT (RFC 6855 §3). The store keeps Unicode with "/" as separator.
import { decodeMutf7, encodeMutf7 } from "../../mime/mutf7.js";
import type { Reader } from "../proto/reader.js";
import { astr, type Str } from "../proto/serializer.js";
import { ImapNo } from "./errors.js";
import type { Session } from "./session.js";

export const SEPARATOR = "/";

export function decodeName(session: Session, raw: Buffer): string {
  const has8bit = raw.some((c) => c >= 0x80);
  if (has8bit) {
    if (!session.utf8) throw new ImapNo("CANNOT", "8-bit mailbox names need ENABLE UTF8=ACCEPT");
    try {
      return new TextDecoder("utf-8", { fatal: true }).decode(raw);
    } catch {
      throw new ImapNo("CANNOT", "Mailbox name is not valid UTF-8");
    }
  }
  const s = raw.toString("latin1");
  if (session.utf8) return s;
  try {
    return decodeMutf7(s);
  } catch {
    throw new ImapNo("CANNOT", "Mailbox name is not valid modified UTF-7");
  }
}

export function readMailboxName(session: Session, r: Reader): string {
  return normalizeInbox(decodeName(session, r.astringBytes()));
}

/** RFC 9051 §5.1: INBOX is case-insensitive, also as the first level of a hierarchy. */
export function normalizeInbox(name: string): string {
  const [first, ...rest] = name.split(SEPARATOR);
  return first!.toUpperCase() === "INBOX" ? ["INBOX", ...rest].join(SEPARATOR) : name;
}

export function encodeName(session: Session, name: string): Str | string {
  return astr(session.utf8 ? name : encodeMutf7(name));
}
