// A blob store in two tiers: blobs up to `maxInlineBytes` live in the metadata database (column
// blobs.data), larger ones in the file store. Both are content-addressed by the sha-256 of the bytes, so a
// blob's id says nothing about where it lives and reads try the database first.
//
// Why: a PEC message is small (receipts are a few KiB, most envelopes tens of KiB) and each one made
// durable as a file costs a create, a write, an fsync, a rename and a directory fsync: per certified
// message the service stores four of them, and the file calls were most of its system time
// (bench/pec-service.ts). In the database the bytes ride in the commit that is made durable anyway, one
// fsync for a whole group of transactions (sqlite-driver.ts, group-commit.ts). Large attachments stay in
// files, where they are streamed rather than held in memory.
import { Readable } from "node:stream";
import type { Kysely, Transaction } from "kysely";
import { type BlobRef, type BlobStore, blobIdOf } from "./blob-store.js";
import { byteLengthOf, joinBytes, type MessageBytes } from "./message-bytes.js";
import type { Database } from "./schema.js";

/** Rows per INSERT: keeps a statement's parameters well under SQLite's and PostgreSQL's limits. */
const ROWS_PER_INSERT = 100;

export interface InlineRow {
  id: string;
  size: number;
  data: Buffer;
}

export class InlineBlobStore implements BlobStore {
  constructor(
    private readonly files: BlobStore,
    private readonly db: Kysely<Database>,
    /** the store's write transaction (group commit on SQLite): durable when it resolves */
    private readonly transact: <T>(fn: (trx: Transaction<Database>) => Promise<T>) => Promise<T>,
    readonly maxInlineBytes: number,
  ) {}

  isInline(size: number): boolean {
    return size <= this.maxInlineBytes;
  }

  /**
   * Splits a batch: large blobs are written to files now (durable when this resolves), small ones are
   * returned for the caller to insert with `insertInline` inside the transaction that references them.
   */
  async stage(items: readonly MessageBytes[]): Promise<{ refs: BlobRef[]; inline: InlineRow[] }> {
    const refs: BlobRef[] = new Array(items.length);
    const large: number[] = [];
    const inline = new Map<string, InlineRow>();
    items.forEach((bytes, i) => {
      const size = byteLengthOf(bytes);
      if (this.isInline(size)) {
        const id = blobIdOf(bytes);
        refs[i] = { id, size };
        if (!inline.has(id)) inline.set(id, { id, size, data: joinBytes(bytes) });
      } else large.push(i);
    });
    if (large.length > 0) {
      const written = await this.files.putMany(large.map((i) => items[i]!));
      large.forEach((i, k) => {
        refs[i] = written[k]!;
      });
    }
    return { refs, inline: [...inline.values()] };
  }

  /**
   * Inserts staged small blobs, bytes and all. An id already present is the same bytes (content
   * addressing): its row is left as it is.
   */
  async insertInline(trx: Transaction<Database>, rows: readonly InlineRow[], now: number): Promise<void> {
    for (let i = 0; i < rows.length; i += ROWS_PER_INSERT) {
      await trx
        .insertInto("blobs")
        .values(rows.slice(i, i + ROWS_PER_INSERT).map((r) => ({ ...r, created_at: now })))
        .onConflict((oc) => oc.column("id").doNothing())
        .execute();
    }
  }

  async put(bytes: Uint8Array): Promise<BlobRef> {
    return (await this.putMany([bytes]))[0]!;
  }

  async putMany(items: readonly MessageBytes[]): Promise<BlobRef[]> {
    const { refs, inline } = await this.stage(items);
    if (inline.length > 0) await this.transact((trx) => this.insertInline(trx, inline, Date.now()));
    return refs;
  }

  /** Streams are for large messages: always a file. */
  putStream(source: AsyncIterable<Uint8Array>): Promise<BlobRef> {
    return this.files.putStream(source);
  }

  private async inlineBytes(id: string): Promise<Buffer | null> {
    const row = await this.db.selectFrom("blobs").select("data").where("id", "=", id).executeTakeFirst();
    return row?.data ? Buffer.from(row.data) : null;
  }

  async get(id: string): Promise<Buffer> {
    return (await this.inlineBytes(id)) ?? this.files.get(id);
  }

  stream(id: string, range?: { start: number; end: number }): Readable {
    const self = this;
    return Readable.from(
      (async function* () {
        const bytes = await self.inlineBytes(id);
        if (bytes) {
          yield range ? bytes.subarray(range.start, Math.max(range.start, range.end)) : bytes;
          return;
        }
        yield* self.files.stream(id, range);
      })(),
      { objectMode: false },
    );
  }

  async has(id: string): Promise<boolean> {
    // Existence only: the bytes themselves are not read.
    const row = await this.db
      .selectFrom("blobs")
      .select("id")
      .where("id", "=", id)
      .where("data", "is not", null)
      .executeTakeFirst();
    return row !== undefined || (await this.files.has(id));
  }

  /** Removes the bytes; the row stays while messages may still name it (foreign key). */
  async delete(id: string): Promise<void> {
    await this.db.updateTable("blobs").set({ data: null }).where("id", "=", id).execute();
    await this.files.delete(id);
  }
}
