import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { openStore } from '../../store/open-store.js';

export type BackendName = 'sqlite' | 'postgres';

/** A fresh, empty database for one run, and how to throw it away. */
export interface FreshDatabase {
  url: string;
  /** The SQLite file, or the PostgreSQL schema. */
  where: string;
  drop(): Promise<void>;
}

/** A new SQLite file in its own temporary directory (the server migrates it at start). */
export function freshSqlite(): FreshDatabase {
  const dir = mkdtempSync(join(tmpdir(), 'hr-bench-'));
  const file = join(dir, 'hr.db');
  return { url: `sqlite:${file}`, where: file, drop: async () => rmSync(dir, { recursive: true, force: true }) };
}

/** `postgres://…` with the search_path set to one schema, as the server and psql both accept. */
export const withSearchPath = (base: string, schema: string): string =>
  `${base}${base.includes('?') ? '&' : '?'}options=${encodeURIComponent(`-c search_path=${schema}`)}`;

/** A new, empty PostgreSQL schema on `baseUrl` (the server migrates it at start). */
export async function freshPostgres(baseUrl: string): Promise<FreshDatabase> {
  const schema = `bench_${randomBytes(6).toString('hex')}`;
  await withClient(baseUrl, (c) => c.query(`CREATE SCHEMA ${schema}`));
  return {
    url: withSearchPath(baseUrl, schema),
    where: schema,
    drop: () => withClient(baseUrl, (c) => c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)).then(() => undefined),
  };
}

async function withClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Applies the service's own migrations to a database, through the store the server uses. */
export async function migrate(url: string): Promise<void> {
  const store = await openStore({ DATABASE_URL: url, PG_POOL_MAX: 1 });
  try {
    await store.migrate();
  } finally {
    await store.close();
  }
}

/**
 * The whole schema of a migrated empty SQLite database (tables, indexes, triggers), read back from
 * its sqlite_master in creation order: what the sqlite3 CLI reference is created with.
 */
export async function sqliteSchema(): Promise<string[]> {
  const db = freshSqlite();
  try {
    await migrate(db.url);
    const conn = new Database(db.where, { readonly: true });
    try {
      return conn
        .prepare("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' ORDER BY rowid")
        .pluck()
        .all() as string[];
    } finally {
      conn.close();
    }
  } finally {
    await db.drop();
  }
}

/** Whether the PostgreSQL store can migrate a schema yet (it may still be a placeholder). */
export async function postgresUsable(baseUrl: string): Promise<string | undefined> {
  let db: FreshDatabase | undefined;
  try {
    db = await freshPostgres(baseUrl);
    await migrate(db.url);
    return undefined;
  } catch (error) {
    return (error as Error).message;
  } finally {
    await db?.drop().catch(() => undefined);
  }
}
