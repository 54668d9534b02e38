// The statements every delivered message runs (box appends, the PEC transport tables) as SQL text, run on
// kysely's connection or transaction past its query builder and compiler. Building a statement makes
// and freezes a node tree and compiles it back to text on every call: 7 µs for a small insert, more for
// the 18-column message row, against 4 µs for running it (bench/pec-service.ts profiles: kysely's own
// code was about a tenth of the event loop with some twenty statements a message). The text here is the
// same SQL kysely wrote for both dialects; `?` placeholders become `$n` for PostgreSQL.
import type { QueryResult } from "kysely";
import { CompiledQuery } from "./kysely.js";
import type { Dialect } from "./migrations.js";

interface Executor {
  executeQuery<R>(query: CompiledQuery<R>): Promise<QueryResult<R>>;
}

const forPostgres = new Map<string, string>();

function postgresText(text: string): string {
  let out = forPostgres.get(text);
  if (out === undefined) {
    let n = 0;
    // The texts here have no string literals, so every `?` is a placeholder.
    out = text.replace(/\?/g, () => `$${++n}`);
    if (forPostgres.size > 1000) forPostgres.clear();
    forPostgres.set(text, out);
  }
  return out;
}

/** Runs `text` with its `?` placeholders bound to `params`, in order. */
export function run<R>(
  db: Executor,
  dialect: Dialect,
  text: string,
  params: readonly unknown[],
): Promise<QueryResult<R>> {
  const sql = dialect === "postgres" ? postgresText(text) : text;
  return db.executeQuery(CompiledQuery.raw(sql, params as unknown[]) as CompiledQuery<R>);
}

const lists = new Map<string, string>();

/** `(?, ?, ?), (?, ?, ?)`: the VALUES of `rows` rows of `columns` columns. */
export function valuesList(rows: number, columns: number): string {
  const key = `${rows}x${columns}`;
  let out = lists.get(key);
  if (out === undefined) {
    const row = `(${Array.from({ length: columns }, () => "?").join(", ")})`;
    out = Array.from({ length: rows }, () => row).join(", ");
    if (lists.size > 1000) lists.clear();
    lists.set(key, out);
  }
  return out;
}

/** `("a", "b", "c")` for an insert's column list. */
export function columnList(columns: readonly string[]): string {
  return `(${columns.map((c) => `"${c}"`).join(", ")})`;
}
