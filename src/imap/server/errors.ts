// Typed errors that map to the wire (architecture.md, style 4): a user error is `NO [CODE]`, a syntax
// error `BAD`, anything unexpected `NO [SERVERBUG]` with the details in the log only.
import { StoreError } from "../../store/types.js";
import { ParseError } from "../proto/reader.js";

export class ImapNo extends Error {
  override name = "ImapNo";
  constructor(
    readonly code: string | null,
    message: string,
  ) {
    super(message);
  }
}

export class ImapBad extends Error {
  override name = "ImapBad";
  constructor(
    message: string,
    readonly code: string | null = null,
  ) {
    super(message);
  }
}

/** Ends the connection with `* BYE text`. */
export class ImapBye extends Error {
  override name = "ImapBye";
}

const STORE_CODES: Record<StoreError["code"], string> = {
  DUPLICATE_ADDRESS: "ALREADYEXISTS",
  INVALID_ADDRESS: "CANNOT",
  NO_SUCH_MAILBOX: "NONEXISTENT",
  NO_SUCH_FOLDER: "NONEXISTENT",
  FOLDER_EXISTS: "ALREADYEXISTS",
  INVALID_FOLDER_NAME: "CANNOT",
  OVER_QUOTA: "OVERQUOTA",
  INVALID_INPUT: "CANNOT",
  CANNOT_DELETE_INBOX: "CANNOT",
};

export type WireError = { status: "NO" | "BAD"; code: string | null; text: string; bug?: unknown };

export function toWire(err: unknown): WireError {
  if (err instanceof ImapNo) return { status: "NO", code: err.code, text: err.message };
  if (err instanceof ImapBad) return { status: "BAD", code: err.code, text: err.message };
  if (err instanceof ParseError) return { status: "BAD", code: null, text: `Syntax error: ${err.message}` };
  if (err instanceof StoreError) {
    // Flags the client got wrong are a syntax problem in IMAP terms.
    if (err.code === "INVALID_INPUT" && /flag|keyword/.test(err.message))
      return { status: "BAD", code: null, text: err.message };
    return { status: "NO", code: STORE_CODES[err.code] ?? null, text: err.message };
  }
  return { status: "NO", code: "SERVERBUG", text: "Internal error, logged", bug: err };
}
