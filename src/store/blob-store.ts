// Content-addressed store of message bytes. A blob's name is the sha-256 of its bytes, so a message is
// stored once however many folders or boxes reference it, and is never rewritten: a signed PEC envelope
// read back years later is the same bytes that were signed (pec-rules.md, "Signed bytes must stay
// byte-exact for ever").
import { createHash, randomBytes } from "node:crypto";
import fs, { createReadStream } from "node:fs";
import { mkdir, open, readFile, rename, rm, stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import { Readable } from "node:stream";
import { promisify } from "node:util";
import { byteLengthOf, chunksOf, knownSha256, type MessageBytes } from "./message-bytes.js";

export interface BlobRef {
  id: string;
  size: number;
}

export interface BlobStore {
  /** Stores the bytes durably (when it resolves, a crash cannot lose them) and returns their name. */
  put(bytes: Uint8Array): Promise<BlobRef>;
  /**
   * put() for a batch: the same guarantee, with each directory made durable once for the batch. An item
   * may be a message in the chunks it arrived in (message-bytes.ts).
   */
  putMany(items: readonly MessageBytes[]): Promise<BlobRef[]>;
  /** Stores a stream without holding it whole in memory. */
  putStream(source: AsyncIterable<Uint8Array>): Promise<BlobRef>;
  get(id: string): Promise<Buffer>;
  /** Inclusive start, exclusive end, as for Buffer.subarray. */
  stream(id: string, range?: { start: number; end: number }): Readable;
  has(id: string): Promise<boolean>;
  delete(id: string): Promise<void>;
}

const BLOB_ID = /^[0-9a-f]{64}$/;
/** File operations in flight at once; fsyncs overlap in the disk's queue (see UV_THREADPOOL_SIZE in bin/). */
const WRITE_CONCURRENCY = 16;

async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

const fsOpen = promisify(fs.open);
const fsWrite = promisify(fs.write);
const fsWritev = promisify(fs.writev);
const fsFsync = promisify(fs.fsync);
const fsClose = promisify(fs.close);

/**
 * Writes a new file (O_EXCL) whole, fsynced when asked. Plain descriptors rather than FileHandle: a
 * migration writes thousands of blobs a second and FileHandle's per-object bookkeeping showed in profiles.
 */
async function writeWhole(path: string, bytes: MessageBytes, sync: boolean): Promise<void> {
  const fd = await fsOpen(path, "wx", 0o600);
  try {
    if (bytes instanceof Uint8Array) {
      let off = 0;
      while (off < bytes.byteLength)
        off += (await fsWrite(fd, bytes, off, bytes.byteLength - off)).bytesWritten;
    } else {
      // The chunks as they are, one system call for many (a short write resumes where it stopped).
      let rest = chunksOf(bytes).filter((c) => c.byteLength > 0);
      while (rest.length > 0) {
        let written = (await fsWritev(fd, rest as NodeJS.ArrayBufferView[])).bytesWritten;
        let i = 0;
        while (i < rest.length && written >= rest[i]!.byteLength) written -= rest[i++]!.byteLength;
        rest = rest.slice(i);
        if (written > 0) rest[0] = rest[0]!.subarray(written);
      }
    }
    if (sync) await fsFsync(fd);
  } finally {
    await fsClose(fd);
  }
}

export function blobIdOf(bytes: MessageBytes): string {
  const known = knownSha256(bytes);
  if (known !== undefined) return known;
  const h = createHash("sha256");
  for (const c of chunksOf(bytes)) h.update(c);
  return h.digest("hex");
}

export class FsBlobStore implements BlobStore {
  private readonly tmpDir: string;
  private tmpReady: Promise<unknown> | null = null;
  /** Leaf directories known to exist: saves a mkdir per blob. */
  private readonly knownDirs = new Set<string>();

  constructor(
    private readonly root: string,
    private readonly options: { fsync: boolean } = { fsync: true },
  ) {
    this.tmpDir = join(root, "tmp");
  }

  /** blobs/ab/cd/abcd…: two levels of 256 keep every directory small. */
  pathOf(id: string): string {
    if (!BLOB_ID.test(id)) throw new Error(`invalid blob id ${JSON.stringify(id)}`);
    return join(this.root, id.slice(0, 2), id.slice(2, 4), id);
  }

  private ensureTmp(): Promise<unknown> {
    this.tmpReady ??= mkdir(this.tmpDir, { recursive: true });
    return this.tmpReady;
  }

  async put(bytes: Uint8Array): Promise<BlobRef> {
    return (await this.putMany([bytes]))[0]!;
  }

  async putMany(items: readonly MessageBytes[]): Promise<BlobRef[]> {
    const refs = items.map((bytes) => ({ id: blobIdOf(bytes), size: byteLengthOf(bytes) }));
    const firstIndex = new Map<string, number>();
    refs.forEach((r, i) => {
      if (!firstIndex.has(r.id)) firstIndex.set(r.id, i);
    });
    await this.ensureTmp();
    const touched = new Set<string>();
    await mapLimit([...firstIndex.entries()], WRITE_CONCURRENCY, async ([id, i]) => {
      if (await this.has(id)) return;
      const tmp = join(this.tmpDir, `${id}.${randomBytes(6).toString("hex")}`);
      await writeWhole(tmp, items[i]!, this.options.fsync);
      for (const d of await this.rename(tmp, id)) touched.add(d);
    });
    await this.syncDirs(touched);
    return refs;
  }

  async putStream(source: AsyncIterable<Uint8Array>): Promise<BlobRef> {
    await this.ensureTmp();
    const tmp = join(this.tmpDir, `stream.${randomBytes(8).toString("hex")}`);
    const hash = createHash("sha256");
    let size = 0;
    const fh = await open(tmp, "wx", 0o600);
    try {
      for await (const chunk of source) {
        hash.update(chunk);
        size += chunk.byteLength;
        await fh.write(chunk);
      }
      if (this.options.fsync) await fh.sync();
    } catch (err) {
      await fh.close();
      await rm(tmp, { force: true });
      throw err;
    }
    await fh.close();
    const id = hash.digest("hex");
    if (await this.has(id)) {
      await rm(tmp, { force: true });
    } else {
      await this.syncDirs(await this.rename(tmp, id));
    }
    return { id, size };
  }

  /** rename(2) is atomic: readers see either no blob or the whole blob, never a partial one. */
  /**
   * Returns the directories whose entries changed: the blob's own, and when it had to be created, every
   * parent that gained a new directory entry (a new directory is durable only once its parent is synced).
   */
  private async rename(tmp: string, id: string): Promise<string[]> {
    const target = this.pathOf(id);
    const dir = dirname(target);
    const changed = [dir];
    if (!this.knownDirs.has(dir)) {
      // mkdir -p answers the first directory it created, if any: from its parent down to `dir`, each
      // holds a new entry.
      const first = await mkdir(dir, { recursive: true });
      if (first !== undefined) {
        for (let d = dir; d !== dirname(first); d = dirname(d)) changed.push(dirname(d));
      }
      this.knownDirs.add(dir);
    }
    await rename(tmp, target);
    return changed;
  }

  /** A rename is durable only once its directory entry is on disk: one fsync per directory per batch. */
  private async syncDirs(dirs: Iterable<string>): Promise<void> {
    if (!this.options.fsync) return;
    await mapLimit([...dirs], WRITE_CONCURRENCY, async (d) => {
      const fd = await fsOpen(d, "r");
      try {
        await fsFsync(fd);
      } finally {
        await fsClose(fd);
      }
    });
  }

  get(id: string): Promise<Buffer> {
    return readFile(this.pathOf(id));
  }

  stream(id: string, range?: { start: number; end: number }): Readable {
    if (range && range.end <= range.start) return Readable.from([]);
    return createReadStream(this.pathOf(id), range ? { start: range.start, end: range.end - 1 } : {});
  }

  async has(id: string): Promise<boolean> {
    try {
      await stat(this.pathOf(id));
      return true;
    } catch {
      return false;
    }
  }

  async delete(id: string): Promise<void> {
    await rm(this.pathOf(id), { force: true });
  }
}
