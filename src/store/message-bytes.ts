// A message's bytes as one buffer, or as the chunks they arrived in. A migration keeps the socket's own
// chunks (migration/imap-response.ts): joining a 10 MB message into one buffer is a copy into memory the
// process has never touched, and on the bench machine those page faults made the join cost more than
// reading, hashing and storing the bytes together. Files are written from the chunks (writev), hashes
// are fed chunk by chunk; only what must be contiguous (a small blob kept in the database, a header
// block) is joined, and it is small.

/**
 * Chunks whose length and sha-256 were computed where they were read (the migration's source thread,
 * migration/source-thread.ts): the store names the blob by that hash instead of hashing them again.
 */
export interface HashedChunks {
  readonly chunks: readonly Uint8Array[];
  readonly size: number;
  /** sha-256 of the bytes, lower-case hex. */
  readonly sha256: string;
}

export type MessageBytes = Uint8Array | readonly Uint8Array[] | HashedChunks;

const isChunkList = (b: unknown): b is readonly Uint8Array[] =>
  Array.isArray(b) && b.every((c) => c instanceof Uint8Array);

export function isMessageBytes(b: unknown): b is MessageBytes {
  if (b instanceof Uint8Array || isChunkList(b)) return true;
  const h = b as HashedChunks | null;
  return (
    typeof h === "object" &&
    h !== null &&
    isChunkList(h.chunks) &&
    typeof h.sha256 === "string" &&
    Number.isSafeInteger(h.size)
  );
}

/** The bytes as a list of chunks (a view, nothing copied). */
export function chunksOf(b: MessageBytes): readonly Uint8Array[] {
  if (b instanceof Uint8Array) return [b];
  return "chunks" in b ? b.chunks : b;
}

/** The sha-256 already known for these bytes, if any. */
export function knownSha256(b: MessageBytes): string | undefined {
  return !(b instanceof Uint8Array) && "sha256" in b ? b.sha256 : undefined;
}

export function byteLengthOf(b: MessageBytes): number {
  if (b instanceof Uint8Array) return b.byteLength;
  if ("size" in b) return b.size;
  let n = 0;
  for (const c of b) n += c.byteLength;
  return n;
}

/** The bytes in one buffer: a view when they are one already, a copy of the chunks otherwise. */
export function joinBytes(b: MessageBytes): Buffer {
  if (b instanceof Uint8Array) return Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  const list = chunksOf(b);
  if (list.length === 1) return joinBytes(list[0]!);
  return Buffer.concat(list);
}

/** At least the first `n` bytes (all of them when there are fewer), copying no more chunks than needed. */
export function leadingBytes(bytes: MessageBytes, n: number): Uint8Array {
  if (bytes instanceof Uint8Array) return bytes;
  const b = chunksOf(bytes);
  if (b.length === 0) return new Uint8Array(0);
  if (b[0]!.byteLength >= n || b.length === 1) return b[0]!;
  const take: Uint8Array[] = [];
  let have = 0;
  for (const c of b) {
    if (have >= n) break;
    take.push(c);
    have += c.byteLength;
  }
  return Buffer.concat(take);
}
