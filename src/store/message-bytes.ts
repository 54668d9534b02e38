// A message's bytes as one buffer, or as the chunks they arrived in. A migration keeps the socket's own
// chunks (migration/imap-response.ts): joining a 10 MB message into one buffer is a copy into memory the
// process has never touched, and on the bench machine those page faults made the join cost more than
// reading, hashing and storing the bytes together. Files are written from the chunks (writev), hashes
// are fed chunk by chunk; only what must be contiguous (a small blob kept in the database, a header
// block) is joined, and it is small.

export type MessageBytes = Uint8Array | readonly Uint8Array[];

export function isMessageBytes(b: unknown): b is MessageBytes {
  return b instanceof Uint8Array || (Array.isArray(b) && b.every((c) => c instanceof Uint8Array));
}

export function byteLengthOf(b: MessageBytes): number {
  if (b instanceof Uint8Array) return b.byteLength;
  let n = 0;
  for (const c of b) n += c.byteLength;
  return n;
}

/** The bytes in one buffer: a view when they are one already, a copy of the chunks otherwise. */
export function joinBytes(b: MessageBytes): Buffer {
  if (b instanceof Uint8Array) return Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  if (b.length === 1) return joinBytes(b[0]!);
  return Buffer.concat(b);
}

/** At least the first `n` bytes (all of them when there are fewer), copying no more chunks than needed. */
export function leadingBytes(b: MessageBytes, n: number): Uint8Array {
  if (b instanceof Uint8Array) return b;
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
