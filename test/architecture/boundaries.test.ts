// The module boundaries of architecture.md, checked on every import of every source file: a rule broken
// here is a design decision undone by accident.
import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { test } from "node:test";

const SRC = resolve(import.meta.dirname, "..", "..", "src");

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? sourceFiles(p) : p.endsWith(".ts") ? [p] : [];
  });
}

interface Import {
  file: string;
  /** Path under src/ for a relative import, or the package name. */
  target: string;
  typeOnly: boolean;
}

function importsOf(file: string): Import[] {
  const text = readFileSync(file, "utf8");
  const out: Import[] = [];
  for (const m of text.matchAll(/^\s*(import|export)\s+(type\s+)?[^'"]*?from\s+["']([^"']+)["']/gm)) {
    const spec = m[3]!;
    const target = spec.startsWith(".")
      ? relative(SRC, resolve(dirname(file), spec)).replace(/\.js$/, ".ts")
      : spec;
    out.push({ file: relative(SRC, file), target, typeOnly: Boolean(m[2]) });
  }
  for (const m of text.matchAll(/import\(\s*["']([^"']+)["']\s*\)/g)) {
    const spec = m[1]!;
    const target = spec.startsWith(".")
      ? relative(SRC, resolve(dirname(file), spec)).replace(/\.js$/, ".ts")
      : spec;
    out.push({ file: relative(SRC, file), target, typeOnly: false });
  }
  return out;
}

const ALL = sourceFiles(SRC).flatMap(importsOf);
const area = (path: string) => path.split("/")[0]!;

function violations(predicate: (i: Import) => boolean): string[] {
  return ALL.filter(predicate).map((i) => `${i.file} imports ${i.target}`);
}

test("domain code never imports protocol code", () => {
  // The scanner reads real imports (so that the rules below can fail).
  assert.ok(ALL.some((i) => i.file === "store/sql-mail-store.ts" && i.target === "accounts/addresses.ts"));
  assert.ok(ALL.some((i) => i.file === "runtime/runtime.ts" && i.target === "http/app.ts"));
  const domain = new Set(["pec", "mime", "store", "accounts", "config", "migration"]);
  const protocol = new Set(["imap", "pop3", "smtp", "http", "cli", "runtime"]);
  assert.deepEqual(
    violations((i) => domain.has(area(i.file)) && protocol.has(area(i.target))),
    [],
  );
});

test("the PEC library is pure: no sockets, no database, no store", () => {
  const forbidden = /^(node:)?(net|tls|http|https|dgram|dns)$|^(pg|better-sqlite3|kysely)$/;
  assert.deepEqual(
    violations(
      (i) =>
        area(i.file) === "pec" &&
        (forbidden.test(i.target) || ["store", "transport"].includes(area(i.target))),
    ),
    [],
  );
});

test("account administration can reach only the account part of the store, never a message reader", () => {
  const allowed = new Set(["store/account-store.ts", "store/types.ts"]);
  assert.deepEqual(
    violations((i) => area(i.file) === "accounts" && area(i.target) === "store" && !allowed.has(i.target)),
    [],
  );
});

test("the AccountStore type offers no method that reads messages, folders or blobs", () => {
  const text = readFileSync(join(SRC, "store", "account-store.ts"), "utf8");
  const picked = [...text.matchAll(/\|\s*"(\w+)"/g)].map((m) => m[1]!);
  assert.ok(picked.length > 5, "the Pick list was read");
  for (const name of picked) {
    assert.doesNotMatch(
      name,
      /message|blob|folder|change|expunge|flag|copy|move|append/i,
      `${name} must not be there`,
    );
  }
});
