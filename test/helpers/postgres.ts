// A fresh PostgreSQL database for a test. The suite runner starts one cluster for the whole run and
// passes its admin URL in DOMICILIO_TEST_POSTGRES; a test file run on its own starts its own cluster and
// stops it when the process exits.
import { randomBytes } from "node:crypto";
import pg from "pg";
import { startPostgresCluster } from "../../scripts/postgres-cluster.mjs";

let ownCluster: Promise<{ adminUrl: string; url: (db: string) => string }> | null = null;

async function adminUrl(): Promise<string> {
  const shared = process.env.DOMICILIO_TEST_POSTGRES;
  if (shared) return shared;
  ownCluster ??= startPostgresCluster().then((c) => {
    process.once("exit", () => c.stop());
    return c;
  });
  return (await ownCluster).adminUrl;
}

/** Creates an empty database and returns its URL. */
export async function createTestDatabase(): Promise<string> {
  const admin = await adminUrl();
  const name = `t_${randomBytes(6).toString("hex")}`;
  const client = new pg.Client({ connectionString: admin });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${name}`);
  } finally {
    await client.end();
  }
  const url = new URL(admin);
  url.pathname = `/${name}`;
  return url.toString();
}
