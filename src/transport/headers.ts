// The top-level header fields the points look at, read from the header block only (the body of a large
// message is never walked for them).
import addressparser from "nodemailer/lib/addressparser";
import { decodeHeaderText, header, headers, parseHeaderBlock } from "../pec/mime-raw.js";

function headerBlock(raw: Buffer): { headers: ReturnType<typeof parseHeaderBlock> } {
  let end = raw.indexOf("\r\n\r\n");
  if (end === -1) end = raw.indexOf("\n\n");
  if (end === -1) end = raw.length;
  return { headers: parseHeaderBlock(raw.subarray(0, end).toString("latin1")) };
}

export function headerValues(raw: Buffer, name: string): string[] {
  return headers(headerBlock(raw), name);
}

export function headerText(raw: Buffer, name: string): string | null {
  const v = header(headerBlock(raw), name);
  return v === null
    ? null
    : decodeHeaderText(v)
        .replace(/[\r\n]+/g, " ")
        .trim();
}

/** Every address of every occurrence of the field, lower-case. */
export function headerAddresses(raw: Buffer, name: string): string[] {
  const out: string[] = [];
  for (const v of headerValues(raw, name)) {
    try {
      for (const a of addressparser(decodeHeaderText(v), { flatten: true }))
        if (a.address?.includes("@")) out.push(a.address.trim().toLowerCase());
    } catch {
      // an unparsable field has no usable address
    }
  }
  return out;
}
