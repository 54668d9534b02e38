// The identificativo of a transaction (RFC 6109 §2.1.1.2 "message identifier"): unique across the
// provider, in the syntax of a Message-ID right side so it can be the envelope's Message-ID as well.
// Real providers write `opec<node>.<yyyymmddhhmmss>.<pid>.<seq>…@<domain>`; ours is
// `domicilio.<yyyymmddhhmmss>.<16 random hex>@<domain>`, stamped in Rome time, randomness injected.
import { compactStamp } from "./rome-time.js";

export type Random = (bytes: number) => Buffer;

export function newIdentificativo(domain: string, now: Date, random: Random): string {
  return `domicilio.${compactStamp(now)}.${random(8).toString("hex")}@${domain}`;
}

/** Message-ID of a receipt or notice: its own, distinct from the transaction's identificativo. */
export function newMessageId(domain: string, now: Date, random: Random): string {
  return `<domicilio.${compactStamp(now)}.r${random(8).toString("hex")}@${domain}>`;
}
