// Folder names as the store keeps them: Unicode, "/" as the hierarchy separator, INBOX in capitals
// whatever case a client used (RFC 3501 §5.1: "INBOX" is case-insensitive).
import { StoreError } from "./types.js";

export const SEPARATOR = "/";
const MAX_NAME_BYTES = 1024;

export function normalizeFolderName(input: string): string {
  const name = input.normalize("NFC");
  if (name === "" || name.startsWith(SEPARATOR) || name.endsWith(SEPARATOR) || name.includes("//")) {
    throw new StoreError("INVALID_FOLDER_NAME", `invalid folder name ${JSON.stringify(input)}`);
  }
  if (/[\x00-\x1f\x7f]/.test(name) || Buffer.byteLength(name) > MAX_NAME_BYTES) {
    throw new StoreError("INVALID_FOLDER_NAME", `invalid folder name ${JSON.stringify(input)}`);
  }
  const [first, ...rest] = name.split(SEPARATOR);
  return first!.toUpperCase() === "INBOX" ? ["INBOX", ...rest].join(SEPARATOR) : name;
}

export function isInbox(name: string): boolean {
  return name === "INBOX";
}

/** True when `name` is `parent` itself or lies below it. */
export function isSelfOrChild(name: string, parent: string): boolean {
  return name === parent || name.startsWith(parent + SEPARATOR);
}
