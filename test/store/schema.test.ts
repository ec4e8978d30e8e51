/**
 * The migrations are frozen SQL files, and the schema they leave is what the data dictionary
 * (src/tables.ts) declares: every table's columns in order, their types, which may be NULL, the
 * primary key, and no secondary index (migration 008 dropped the three nothing read; see
 * test/store/indexes.test.ts for the plans that need none). A dictionary change without its
 * migration fails here; a migration that changes what version 1 created fails here too.
 */
import pg from 'pg';
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { migrationsFor } from '../../src/store/migrations.js';
import { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { Dialect } from '../../src/store/store.js';
import { TABLE_NAMES, TABLES, type ColumnType, type TableName } from '../../src/tables.js';
import { postgresBackend } from '../helpers/postgres.js';

/** What a table looks like in a database, described the same way for both dialects. */
interface TableShape {
  columns: { name: string; type: string; nullable: boolean }[];
  primaryKey: string[];
  /** Indexed column lists of the non-unique indexes, sorted. */
  indexes: string[][];
}

/** The SQL type each dictionary type must have, written out here rather than taken from src/. */
const EXPECTED_TYPES: Record<Dialect, Record<ColumnType, string>> = {
  sqlite: { integer: 'INTEGER', text: 'TEXT', datetime: 'TEXT' },
  postgres: { integer: 'bigint', text: 'text', datetime: 'timestamp with time zone' },
};

/**
 * The shape the dictionary declares for `name`: nullable but for the key; no secondary index
 * (src/store/ddl.ts declares none, each table being read by its primary key only).
 */
function declared(name: TableName, dialect: Dialect): TableShape {
  const columns = TABLES[name].columns;
  return {
    columns: columns.map((c) => ({ name: c.name, type: EXPECTED_TYPES[dialect][c.type], nullable: c.primaryKey !== true })),
    primaryKey: columns.filter((c) => c.primaryKey === true).map((c) => c.name),
    indexes: [],
  };
}

function sqliteShape(db: Database.Database, table: string): TableShape {
  const info = db.prepare(`PRAGMA table_info("${table}")`).all() as { name: string; type: string; notnull: number; pk: number }[];
  const indexes = (db.prepare(`PRAGMA index_list("${table}")`).all() as { name: string; origin: string; unique: number }[])
    .filter((i) => i.origin === 'c' && i.unique === 0)
    .map((i) => (db.prepare(`PRAGMA index_info("${i.name}")`).all() as { name: string }[]).map((c) => c.name))
    .sort();
  return {
    // An INTEGER PRIMARY KEY is the rowid: it can never hold NULL, though table_info says notnull 0.
    columns: info.map((c) => ({
      name: c.name,
      type: c.type,
      nullable: c.notnull === 0 && !(c.pk > 0 && c.type === 'INTEGER'),
    })),
    primaryKey: info
      .filter((c) => c.pk > 0)
      .sort((a, b) => a.pk - b.pk)
      .map((c) => c.name),
    indexes,
  };
}

async function postgresShape(client: pg.Pool, table: string): Promise<TableShape> {
  const columns = await client.query<{ name: string; type: string; nullable: string }>(
    `SELECT column_name AS name, data_type AS type, is_nullable AS nullable FROM information_schema.columns
     WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position`,
    [table],
  );
  const key = await client.query<{ name: string }>(
    `SELECT a.attname AS name FROM pg_index i
     JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, n) ON true
     JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
     WHERE i.indrelid = to_regclass($1) AND i.indisprimary ORDER BY k.n`,
    [table],
  );
  const indexes = await client.query<{ columns: string[] }>(
    `SELECT array_agg(a.attname ORDER BY k.n)::text[] AS columns FROM pg_index i
     JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, n) ON true
     JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
     WHERE i.indrelid = to_regclass($1) AND NOT i.indisunique GROUP BY i.indexrelid`,
    [table],
  );
  return {
    columns: columns.rows.map((c) => ({ name: c.name, type: c.type, nullable: c.nullable === 'YES' })),
    primaryKey: key.rows.map((r) => r.name),
    indexes: indexes.rows.map((r) => r.columns).sort(),
  };
}

describe('migration 001', () => {
  it.each(['sqlite', 'postgres'] as const)('is a frozen file for %s: a column added to the dictionary does not change it', (dialect) => {
    const before = migrationsFor(dialect);
    expect(before[0]).toMatchObject({ version: 1, name: 'tables' });
    const columns = TABLES.jobs.columns as unknown as { name: string; type: ColumnType; description: string; example: string }[];
    columns.push({ name: 'grade', type: 'text', description: 'added by this test', example: 'A' });
    try {
      expect(migrationsFor(dialect)).toEqual(before);
      expect(before[0]!.statements.join('\n')).not.toContain('grade');
    } finally {
      columns.pop();
    }
  });
});

describe('the migrated schema is the dictionary [sqlite]', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hr-schema-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.each(TABLE_NAMES)('%s', async (name) => {
    const path = join(dir, `${name}.sqlite`);
    const store = new SqliteStore({ path });
    await store.migrate();
    await store.close();
    const db = new Database(path, { readonly: true });
    try {
      expect(sqliteShape(db, name)).toEqual(declared(name, 'sqlite'));
    } finally {
      db.close();
    }
  });

  it('and a dictionary column without its migration is a difference', async () => {
    const path = join(dir, 'drift.sqlite');
    const store = new SqliteStore({ path });
    await store.migrate();
    await store.close();
    const db = new Database(path, { readonly: true });
    const columns = TABLES.jobs.columns as unknown as { name: string; type: ColumnType; description: string; example: string }[];
    columns.push({ name: 'grade', type: 'text', description: 'added by this test', example: 'A' });
    try {
      expect(sqliteShape(db, 'jobs')).not.toEqual(declared('jobs', 'sqlite'));
    } finally {
      columns.pop();
      db.close();
    }
  });
});

describe.skipIf(!postgresBackend.available)('the migrated schema is the dictionary [postgres]', () => {
  it('for every table', async () => {
    const db = await postgresBackend.create();
    const store = new PostgresStore({ connectionString: db.url, poolMax: 2 });
    try {
      await store.migrate();
      for (const name of TABLE_NAMES) expect(await postgresShape(store.pool, name)).toEqual(declared(name, 'postgres'));
    } finally {
      await store.close();
      await db.drop();
    }
  });
});
