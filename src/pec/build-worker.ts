// The build thread (build-thread.ts explains why a thread): it writes and signs the provider messages
// of each request, signing in place with node:crypto, and sends back their bytes, each in an
// ArrayBuffer of its own that is transferred rather than copied, with their sha-256, which the store
// then uses as the blob's name instead of hashing them again on the event loop.
import { createHash, type KeyObject, sign } from "node:crypto";
import { parentPort } from "node:worker_threads";
import { asBuffer, type BuildJob, runBuildJobs } from "./build-jobs.js";
import type { BuildContext, BuiltPec, PecProvider } from "./builders.js";
import { pooledRandomBytes } from "./random-pool.js";

export interface BuildInit {
  provider: PecProvider;
  key: KeyObject;
  certificate: Uint8Array;
  chain: Uint8Array[];
}

export interface BuildRequest {
  /** echoed in the reply: the caller checks that each answer is the one it expects */
  id: number;
  /** the time every message of the request carries, ms since the epoch */
  now: number;
  jobs: BuildJob[];
}

export type BuildReply = { id: number } & (
  | { built: BuiltPec[] }
  | { error: { name: string; message: string; code?: string } }
);

const port = parentPort!;
let base: Omit<BuildContext, "now"> | null = null;

async function answer(r: BuildRequest, transfer: ArrayBuffer[]): Promise<BuildReply> {
  if (!base)
    return { id: r.id, error: { name: "Error", message: "the build thread has no signing key yet" } };
  try {
    const built = await runBuildJobs(base, r.now, r.jobs);
    for (const b of built) {
      // An exact copy of the bytes (a Buffer may be a view into a larger pooled one) to hand over.
      const own = new Uint8Array(b.raw.length);
      own.set(b.raw);
      transfer.push(own.buffer);
      b.sha256 = createHash("sha256").update(own).digest("hex");
      b.raw = own as Buffer;
    }
    return { id: r.id, built };
  } catch (err) {
    const e = err as { name?: string; message?: string; code?: unknown };
    return {
      id: r.id,
      error: {
        name: e?.name ?? "Error",
        message: e?.message ?? String(err),
        ...(typeof e?.code === "string" ? { code: e.code } : {}),
      },
    };
  }
}

/** Messages handled one after the other, so answers leave in the order requests came. */
let queue: Promise<void> = Promise.resolve();

port.on("message", (m: { init: BuildInit } | { batch: BuildRequest[] }) => {
  // Anything that escapes (an answer that cannot be posted) ends the thread: the caller then builds
  // what it was waiting for itself (build-thread.ts), rather than wait for an answer that never comes.
  queue = queue
    .then(() => handle(m))
    .catch((err: unknown) => {
      setImmediate(() => {
        throw err;
      });
    });
});

async function handle(m: { init: BuildInit } | { batch: BuildRequest[] }): Promise<void> {
  if ("init" in m) {
    const { key, provider } = m.init;
    base = {
      provider,
      signer: {
        key,
        certificate: asBuffer(m.init.certificate),
        chain: m.init.chain.map(asBuffer),
        signHere: (data) => sign("sha256", data, key),
      },
      random: pooledRandomBytes(),
    };
    return;
  }
  // Each answer goes as soon as it is ready: the event loop commits the first submission of a batch while
  // the next is built here.
  for (const r of m.batch) {
    const transfer: ArrayBuffer[] = [];
    const reply = await answer(r, transfer);
    port.postMessage(reply, transfer);
  }
}
