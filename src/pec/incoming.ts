// The incoming point's question (pec-rules.md "Roles", RFC 6109 §3.2): is this message valid PEC? Only
// an envelope or receipt whose signature verifies, whose signing certificate belongs to a provider of the
// index, and that carries its certification data. Anything else goes into a busta di anomalia (or is
// refused, by the box's setting): that decision is the caller's.
import type { ProviderEntry, ProvidersIndex } from "./providers-index.js";
import { type PecReading, readPec } from "./reader.js";

export interface IncomingVerdict {
  valid: boolean;
  /** why it is not valid PEC */
  reason: string | null;
  /** the provider that signed it, from the index */
  provider: ProviderEntry | null;
  reading: PecReading;
}

export function assessIncoming(raw: Buffer, index: ProvidersIndex): IncomingVerdict {
  const reading = readPec(raw, { trust: index.trustStore() });
  const s = reading.signature;
  const provider = s.signerCertificate && s.intact ? index.providerForCertificate(s.signerCertificate) : null;
  let reason: string | null = null;
  if (!reading.pec) reason = "not a PEC message (no X-Trasporto / X-Ricevuta)";
  else if (!s.present) reason = "no S/MIME signature";
  else if (!s.intact) reason = `signature broken: ${s.reason ?? "unknown"}`;
  else if (!provider) reason = "the signer is not a provider of the index";
  else if (!s.trusted) reason = `the signer is not trusted: ${s.reason ?? "unknown"}`;
  // A busta di anomalia describes no certified transaction, so it has no daticert (RFC 6109 §3.2.2).
  else if (!reading.daticert && reading.pec !== "errore") reason = "no valid daticert.xml";
  return { valid: reason === null, reason, provider, reading };
}
