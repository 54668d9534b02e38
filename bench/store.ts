// `npm run bench -- store`: append and fetch rates of the store on SQLite and PostgreSQL, beside the peer
// measured in the same run: the raw durable file write (write + fsync + rename + directory fsync) that
// every append must pay at least once. The ratio store/raw is the figure.
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { mkdir, open, rename } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Backend, createTempStore } from "../test/helpers/temp-store.js";
import { printTable, type Row, writeResults } from "./report.js";

const MESSAGES = Number(process.env.BENCH_STORE_MESSAGES ?? 5000);
const BATCH = 100;
const SIZE = 8 * 1024;

function corpus(): Buffer[] {
  return Array.from({ length: MESSAGES }, (_, i) =>
    Buffer.concat([
      Buffer.from(
        `From: a${i}@example.it\r\nTo: b@pec.example.it\r\nSubject: bench ${i}\r\nMessage-ID: <${i}@bench>\r\n\r\n`,
      ),
      randomBytes(SIZE),
    ]),
  );
}

async function rawDurableWrites(messages: Buffer[]): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), "domicilio-bench-raw-"));
  try {
    await mkdir(join(dir, "tmp"));
    const started = performance.now();
    for (let i = 0; i < messages.length; i += BATCH) {
      await Promise.all(
        messages.slice(i, i + BATCH).map(async (m) => {
          const id = createHash("sha256").update(m).digest("hex");
          const tmp = join(dir, "tmp", id);
          const fh = await open(tmp, "w");
          await fh.writeFile(m);
          await fh.sync();
          await fh.close();
          await rename(tmp, join(dir, id));
          const d = await open(dir, "r");
          await d.sync();
          await d.close();
        }),
      );
    }
    return messages.length / ((performance.now() - started) / 1000);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function measure(backend: Backend, messages: Buffer[]) {
  const temp = await createTempStore(backend);
  try {
    const { store } = temp;
    const box = await store.createMailbox({
      address: "bench@pec.example.it",
      passwordHash: "x",
      quotaBytes: 1024 ** 4,
      state: "active",
    });
    const inbox = (await store.getFolder(box.id, "INBOX"))!;
    let t = performance.now();
    for (let i = 0; i < messages.length; i += BATCH) {
      await store.appendMessages(
        box.id,
        inbox.id,
        messages.slice(i, i + BATCH).map((bytes) => ({ bytes, flags: ["\\Seen"] })),
      );
    }
    const append = messages.length / ((performance.now() - t) / 1000);
    t = performance.now();
    const list = await store.listMessages(inbox.id);
    let bytes = 0;
    for (const m of list) bytes += (await store.readBlob(m.blobId)).length;
    const fetchSeconds = (performance.now() - t) / 1000;
    return { append, fetch: list.length / fetchSeconds, fetchMBs: bytes / 1024 / 1024 / fetchSeconds };
  } finally {
    await temp.close();
  }
}

export default async function run(): Promise<void> {
  const messages = corpus();
  const raw = await rawDurableWrites(messages);
  const rows: Row[] = [{ what: "peer: raw durable file write", "msgs/s": Math.round(raw), ratio: 1 }];
  const results: Record<string, unknown> = {
    messages: MESSAGES,
    size: SIZE,
    batch: BATCH,
    rawWritesPerSecond: raw,
  };
  for (const backend of ["sqlite", "postgres"] as const) {
    const r = await measure(backend, messages);
    results[backend] = r;
    rows.push({
      what: `${backend}: append (batches of ${BATCH})`,
      "msgs/s": Math.round(r.append),
      ratio: r.append / raw,
    });
    rows.push({
      what: `${backend}: list + read every message`,
      "msgs/s": Math.round(r.fetch),
      ratio: r.fetch / raw,
    });
  }
  console.log(`${MESSAGES} messages of ${SIZE / 1024} KiB`);
  printTable(rows);
  writeResults("store", results);
  // The PostgreSQL cluster of test/helpers/postgres.ts stops when the process exits.
}
