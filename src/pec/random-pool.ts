// Random bytes for identifiers (identificativi, Message-IDs, MIME boundaries) drawn from a pool that is
// refilled from the CSPRNG 4 KiB at a time: each randomBytes(8) call entered OpenSSL on its own, and a
// PEC message takes about ten of them (3% of the PEC service's event loop, bench/pec-service.ts). The
// bytes are the same CSPRNG output, each handed out once.
import { randomFillSync } from "node:crypto";

const POOL_BYTES = 4096;

export function pooledRandomBytes(): (bytes: number) => Buffer {
  const pool = Buffer.allocUnsafe(POOL_BYTES);
  let at = POOL_BYTES;
  return (bytes: number) => {
    if (bytes > POOL_BYTES) return randomFillSync(Buffer.allocUnsafe(bytes));
    if (at + bytes > POOL_BYTES) {
      randomFillSync(pool);
      at = 0;
    }
    // A copy: a caller may keep the bytes after the pool is refilled.
    const out = Buffer.from(pool.subarray(at, at + bytes));
    at += bytes;
    return out;
  };
}
