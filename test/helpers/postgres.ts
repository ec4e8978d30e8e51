/**
 * The PostgreSQL test backend: each `create()` makes a schema of its own on TEST_DATABASE_URL
 * and returns a URL whose `options` select it (`-c search_path=…`, passed by node-pg as the
 * startup `options` parameter); `drop()` removes it. Reachability is decided once, at import:
 * unreachable skips the PostgreSQL suites with a visible warning, except under CI=true, where it
 * fails the run.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { Backend, TestDatabase } from './backends.js';

export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test';

/** A URL of the test database with another schema first on its search path. */
export function withSearchPath(url: string, schema: string): string {
  const parsed = new URL(url);
  parsed.searchParams.set('options', `-c search_path=${schema}`);
  return parsed.toString();
}

/** Runs one statement on a short-lived connection to the test database. */
export async function adminQuery(sql: string, params: unknown[] = [], connectionTimeoutMillis = 10_000): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: TEST_DATABASE_URL, connectionTimeoutMillis });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await client.query(sql, params);
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function reachable(): Promise<string | undefined> {
  try {
    await adminQuery('SELECT 1', [], 2000);
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message || error.name : String(error);
  }
}

const problem = await reachable();
const redacted = TEST_DATABASE_URL.replace(/\/\/[^@/]*@/, '//…@');
if (problem !== undefined) {
  const message = `PostgreSQL at ${redacted} is unreachable (${problem})`;
  if (process.env.CI === 'true') throw new Error(`${message}: CI=true requires it. Start it or set TEST_DATABASE_URL.`);
  console.warn(`\n⚠ ${message}: the PostgreSQL suites are SKIPPED. Start it or set TEST_DATABASE_URL.\n`);
}

export const postgresBackend: Backend = {
  name: 'postgres',
  available: problem === undefined,
  async create(): Promise<TestDatabase> {
    const schema = `t_${randomBytes(6).toString('hex')}`;
    await adminQuery(`CREATE SCHEMA ${schema}`);
    return {
      url: withSearchPath(TEST_DATABASE_URL, schema),
      drop: async () => {
        await adminQuery(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      },
    };
  },
};
