// The two FETCHes of a copy, on a selected folder (RFC 3501 §6.4.5): the scan, `UID FETCH 1:* (FLAGS
// RFC822.SIZE)`, and the bodies, `UID FETCH set (UID FLAGS INTERNALDATE BODY.PEEK[])`, one answer per
// message. imapflow's public fetch() formats every answer (it compiles each attribute name back to text
// and hashes an id for the message) and hands it over through an async generator, a few promise hops
// per message: ~0.25 ms of CPU per message, the whole scan of a 2,000-message box took 0.4–0.8 s and
// was a fifth of a copy. Here the answers are read straight from imapflow's parsed tokens, through the
// exec() its own commands use; where exec() is missing (another imapflow), fetch().
import type { ImapFlow } from "imapflow";

export interface ScannedAttributes {
  uid: number;
  flags: string[];
  size: number;
}

/** A token of imapflow's parser: an atom or string, or a parenthesised list of tokens. */
type Token = { type?: string; value?: unknown } | Token[];

type Exec = (
  command: string,
  attributes: unknown[],
  options: { untagged: { FETCH: (untagged: { attributes?: Token[] }) => void } },
) => Promise<{ next: () => void }>;

/** Reads UID, FLAGS and RFC822.SIZE from a FETCH answer's attribute list; null without UID or size. */
export function readScanAttributes(list: Token[]): ScannedAttributes | null {
  let uid: number | undefined;
  let size: number | undefined;
  let flags: string[] = [];
  for (let i = 0; i + 1 < list.length; i += 2) {
    const k = list[i]!;
    const v = list[i + 1]!;
    const key = !Array.isArray(k) && typeof k.value === "string" ? k.value.toUpperCase() : "";
    if (key === "UID" && !Array.isArray(v)) uid = Number(v.value);
    else if (key === "RFC822.SIZE" && !Array.isArray(v)) size = Number(v.value);
    else if (key === "FLAGS" && Array.isArray(v))
      flags = v.flatMap((t) => (!Array.isArray(t) && typeof t.value === "string" ? [t.value] : []));
  }
  // An unsolicited FETCH (a flag change announced by the server) carries neither: not an answer.
  if (uid === undefined || size === undefined || !Number.isSafeInteger(uid) || !Number.isSafeInteger(size))
    return null;
  return { uid, flags, size };
}

function execOf(client: ImapFlow): Exec | null {
  const exec = (client as unknown as { exec?: Exec }).exec;
  return typeof exec === "function" ? exec : null;
}

/** Every message of the folder `client` has selected. */
export async function scanSelected(
  client: ImapFlow,
  onMessage: (m: ScannedAttributes) => void,
): Promise<void> {
  const exec = execOf(client);
  if (!exec) {
    for await (const m of client.fetch("1:*", { uid: true, flags: true, size: true })) {
      onMessage({ uid: m.uid, flags: [...(m.flags ?? [])], size: m.size ?? 0 });
    }
    return;
  }
  const response = await exec.call(
    client,
    "UID FETCH",
    [
      { type: "SEQUENCE", value: "1:*" },
      [
        { type: "ATOM", value: "FLAGS" },
        { type: "ATOM", value: "RFC822.SIZE" },
      ],
    ],
    {
      untagged: {
        FETCH: (untagged) => {
          const m = readScanAttributes((untagged.attributes?.[1] as Token[] | undefined) ?? []);
          if (m) onMessage(m);
        },
      },
    },
  );
  response.next();
}

export interface FetchedMessage {
  uid: number;
  /** The message's bytes as the server sent them (imapflow's literal buffer, not copied). */
  source: Buffer;
  /** Absent when the server left FLAGS out of its answer. */
  flags?: string[];
  /** As imapflow reads it: a Date when the text parses, else the text. */
  internalDate?: Date | string;
}

const atomValue = (t: Token | undefined): string =>
  t && !Array.isArray(t) && typeof t.value === "string" ? t.value : "";

/**
 * Reads UID, FLAGS, INTERNALDATE and the whole body (BODY[]) from a FETCH answer's attribute list; null
 * without UID or body (an unsolicited FETCH, a flag change the server announces meanwhile).
 */
export function readFetchAttributes(list: Token[]): FetchedMessage | null {
  let uid: number | undefined;
  let source: Buffer | undefined;
  let flags: string[] | undefined;
  let internalDate: Date | string | undefined;
  for (let i = 0; i + 1 < list.length; i += 2) {
    const k = list[i]!;
    const v = list[i + 1]!;
    if (Array.isArray(k)) continue;
    const key = atomValue(k).toUpperCase();
    if (key === "UID") uid = Number(atomValue(v));
    else if (key === "FLAGS" && Array.isArray(v))
      flags = v.flatMap((t) => (!Array.isArray(t) && typeof t.value === "string" ? [t.value] : []));
    else if (key === "INTERNALDATE" && atomValue(v)) {
      const text = atomValue(v);
      const date = new Date(text);
      internalDate = Number.isNaN(date.getTime()) ? text : date;
    } else if (key === "BODY" || key === "BINARY") {
      // BODY[] only: no section, no partial (<origin>), which a BODY.PEEK[] request never gets.
      const section = (k as { section?: unknown }).section;
      if (!Array.isArray(section) || section.length > 0 || (k as { partial?: unknown }).partial) continue;
      if (v && !Array.isArray(v)) {
        if (Buffer.isBuffer(v.value)) source = v.value;
        // A server may answer with a quoted string instead of a literal: imapflow's tokenizer decoded
        // the line as UTF-8, so encoding it the same way gives back the bytes it sent (as fetch() does).
        else if (typeof v.value === "string") source = Buffer.from(v.value);
      }
    }
  }
  if (uid === undefined || !Number.isSafeInteger(uid) || uid <= 0 || !source) return null;
  return {
    uid,
    source,
    ...(flags ? { flags } : {}),
    ...(internalDate !== undefined ? { internalDate } : {}),
  };
}

/** `UID FETCH uids (UID FLAGS INTERNALDATE BODY.PEEK[])` on the folder `client` has selected. */
export async function fetchSelected(
  client: ImapFlow,
  uids: string,
  onMessage: (m: FetchedMessage) => void,
): Promise<void> {
  const exec = execOf(client);
  if (!exec) {
    for await (const m of client.fetch(
      uids,
      { uid: true, flags: true, internalDate: true, source: true },
      { uid: true },
    )) {
      if (!m.source) continue;
      onMessage({
        uid: m.uid,
        source: m.source,
        ...(m.flags ? { flags: [...m.flags] } : {}),
        ...(m.internalDate !== undefined ? { internalDate: m.internalDate } : {}),
      });
    }
    return;
  }
  const response = await exec.call(
    client,
    "UID FETCH",
    [
      { type: "SEQUENCE", value: uids },
      [
        { type: "ATOM", value: "UID" },
        { type: "ATOM", value: "FLAGS" },
        { type: "ATOM", value: "INTERNALDATE" },
        { type: "ATOM", value: "BODY.PEEK", section: [] },
      ],
    ],
    {
      untagged: {
        FETCH: (untagged) => {
          const m = readFetchAttributes((untagged.attributes?.[1] as Token[] | undefined) ?? []);
          if (m) onMessage(m);
        },
      },
    },
  );
  response.next();
}
