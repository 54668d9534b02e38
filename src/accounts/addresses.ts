// PEC addresses: the login name everywhere (contract.md). Case-insensitive, stored lower-case; spaces
// around what a person typed are forgiven (mission.md: "typed credentials with a stray space").
const LOCAL = /^[a-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*$/;
const DOMAIN = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/;

export function normalizeAddress(input: string): string {
  return input.trim().toLowerCase();
}

/** Returns the normalised address, or null when it is not a plain addr-spec (RFC 5321 §4.1.2). */
export function parseAddress(input: string): { address: string; local: string; domain: string } | null {
  const address = normalizeAddress(input);
  const at = address.lastIndexOf("@");
  if (at <= 0 || address.length > 254) return null;
  const local = address.slice(0, at);
  const domain = address.slice(at + 1);
  if (local.length > 64 || !LOCAL.test(local) || !DOMAIN.test(domain)) return null;
  return { address, local, domain };
}
