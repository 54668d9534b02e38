// kysely's runtime values, from its CommonJS build. Its ES module build is 262 files that Node resolves
// and reads one by one: ~165 ms of every command's start-up on the bench machine, against ~95 ms for the
// CommonJS build (node 20, each measured alone; a migration is a process of a few seconds). Types still
// come from "kysely" itself; every value of kysely in src/ is taken from here, so objects of the two
// builds never meet. (imapflow is loaded the same way: migration/targets.ts.)
import { createRequire } from "node:module";
import type * as K from "kysely";

const k = createRequire(import.meta.url)("kysely") as typeof K;

export const Kysely = k.Kysely;
export type Kysely<DB> = K.Kysely<DB>;
export const CompiledQuery = k.CompiledQuery;
export type CompiledQuery<O = unknown> = K.CompiledQuery<O>;
export const Migrator = k.Migrator;
export const PostgresDialect = k.PostgresDialect;
export const SqliteDialect = k.SqliteDialect;
export const SqliteAdapter = k.SqliteAdapter;
export const SqliteIntrospector = k.SqliteIntrospector;
export const SqliteQueryCompiler = k.SqliteQueryCompiler;
export const sql = k.sql;
