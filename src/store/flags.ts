// IMAP flags as the store keeps them: system flags in their canonical spelling, keywords as given,
// compared case-insensitively (RFC 9051 §2.3.2), sorted and without duplicates. \Recent is per session
// (RFC 3501 §2.3.2) and never stored.
import { StoreError } from "./types.js";

const SYSTEM_FLAGS = ["\\Answered", "\\Deleted", "\\Draft", "\\Flagged", "\\Seen"];
const SYSTEM_BY_LOWER = new Map(SYSTEM_FLAGS.map((f) => [f.toLowerCase(), f]));

/** RFC 3501 §9 atom characters, which is what a keyword may contain. */
const KEYWORD = /^\$?[^\x00-\x20\x7f(){%*"\\\]]+$/;

export function normalizeFlags(flags: readonly string[]): string[] {
  const byLower = new Map<string, string>();
  for (const raw of flags) {
    const lower = raw.toLowerCase();
    if (lower === "\\recent") continue;
    const system = SYSTEM_BY_LOWER.get(lower);
    if (system) {
      byLower.set(lower, system);
    } else if (raw.startsWith("\\")) {
      throw new StoreError("INVALID_INPUT", `unknown system flag ${raw}`);
    } else if (KEYWORD.test(raw)) {
      if (!byLower.has(lower)) byLower.set(lower, raw);
    } else {
      throw new StoreError("INVALID_INPUT", `invalid keyword ${JSON.stringify(raw)}`);
    }
  }
  return [...byLower.values()].sort((a, b) => (a.toLowerCase() < b.toLowerCase() ? -1 : 1));
}

export function applyFlags(
  current: readonly string[],
  mode: "add" | "remove" | "replace",
  flags: string[],
): string[] {
  if (mode === "replace") return normalizeFlags(flags);
  if (mode === "add") return normalizeFlags([...current, ...flags]);
  const remove = new Set(flags.map((f) => f.toLowerCase()));
  return current.filter((f) => !remove.has(f.toLowerCase()));
}

export const encodeFlags = (flags: readonly string[]): string => flags.join(" ");
export const decodeFlags = (text: string): string[] => (text ? text.split(" ") : []);
