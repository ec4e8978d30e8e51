/**
 * Every index earns its place. hired_employees had three secondary indexes (instant, department,
 * job) that no query read; migration 008 dropped them. What shows they were not needed: every
 * statement the service runs against the three tables is planned on a primary key, on both
 * backends, with the migrated schema. Each statement below is the one its file runs (same shape,
 * same predicates); a new query that needs another index fails here and declares it in
 * src/store/ddl.ts with a migration.
 */
import Database from 'better-sqlite3';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { postgresBackend } from '../helpers/postgres.js';
import type { TestDatabase } from '../helpers/backends.js';

const REPORTS = ['hired-employees', 'department-hires', 'departments-above-mean', 'years'];
const report = (name: string, dialect: 'sqlite' | 'postgres'): string =>
  readFileSync(new URL(`../../src/reports/sql/${name}.${dialect}.sql`, import.meta.url), 'utf8');

/** The statements on hired_employees, departments and jobs, by the file that runs them (SQLite). */
const SQLITE_BY_ID: Record<string, string> = {
  'sqlite-backup.ts: a keyset page of an export':
    'SELECT id, name, datetime, department_id, job_id FROM hired_employees WHERE id > ? ORDER BY id LIMIT 1000',
  'sqlite-replace.ts: is a restored id stored': 'SELECT 1 FROM hired_employees WHERE id = ?',
  'sqlite-load.ts: strict mode, is a department stored': 'SELECT 1 FROM departments WHERE id = ?',
  'sqlite-load.ts: strict mode, is a job stored': 'SELECT 1 FROM jobs WHERE id = ?',
  'sqlite-load.ts: an upload insert, a duplicate id found by the key': `INSERT INTO hired_employees (id, name, datetime, department_id, job_id)
     VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING RETURNING id`,
  'sqlite-load.ts: on_conflict=update': `INSERT INTO hired_employees (id, name, datetime, department_id, job_id)
     VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET name = excluded.name RETURNING id`,
};

describe('indexes [sqlite]', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hr-indexes-'));
  const path = join(dir, 'db.sqlite');
  let db: Database.Database;
  beforeAll(async () => {
    const store = new SqliteStore({ path });
    await store.migrate();
    await store.close();
    db = new Database(path);
    // Enough rows for ANALYZE to have something to weigh: a scan must lose on its merits.
    const insert = db.prepare('INSERT INTO hired_employees VALUES (?, ?, ?, ?, ?)');
    db.transaction(() => {
      for (let id = 1; id <= 5000; id++) insert.run(id, `N${id}`, `2021-0${(id % 9) + 1}-01T00:00:00Z`, (id % 12) + 1, (id % 40) + 1);
      for (let id = 1; id <= 40; id++) db.prepare('INSERT INTO jobs VALUES (?, ?)').run(id, `J${id}`);
      for (let id = 1; id <= 12; id++) db.prepare('INSERT INTO departments VALUES (?, ?)').run(id, `D${id}`);
    })();
    db.exec('ANALYZE');
  });
  afterAll(() => {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const plan = (sql: string): string =>
    (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...Array(sql.split('?').length - 1).fill(1)) as { detail: string }[])
      .map((p) => p.detail)
      .join('; ');

  it('hired_employees has no secondary index after the migrations', () => {
    const names = db
      .prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'hired_employees' AND sql IS NOT NULL")
      .pluck()
      .all();
    expect(names).toEqual([]);
  });

  it.each(Object.entries(SQLITE_BY_ID))('%s: by the primary key', (_name, sql) => {
    const detail = plan(sql);
    // An INSERT's own conflict check is the key's b-tree and has no plan line; a SELECT searches it.
    if (sql.startsWith('SELECT')) expect(detail).toMatch(/^SEARCH \w+ USING INTEGER PRIMARY KEY \(rowid[>=]\?\)$/);
    expect(detail).not.toMatch(/\bSCAN (hired_employees|departments|jobs)\b/);
  });

  it.each(REPORTS)('the %s report reads hire_counts by its key, never hired_employees', (name) => {
    const detail = plan(report(name, 'sqlite'));
    expect(detail).not.toContain('hired_employees');
    if (name !== 'years') expect(detail).toMatch(/SEARCH c USING PRIMARY KEY \(year=\?\)/);
  });
});

/** The statements on hired_employees, departments and jobs, by the file that runs them (PostgreSQL). */
const POSTGRES_BY_ID: Record<string, string> = {
  'postgres-backup.ts: a keyset page of an export':
    'SELECT id, name, datetime, department_id, job_id FROM hired_employees WHERE id > $1 ORDER BY id LIMIT 10000',
  'postgres-store.ts: a batch, which of its ids are stored': 'SELECT id FROM hired_employees WHERE id = ANY($1::bigint[])',
  'postgres-load.ts: strict mode, is a department stored': 'SELECT 1 FROM departments AS x WHERE x.id = $1',
  'postgres-load.ts: strict mode, is a job stored': 'SELECT 1 FROM jobs AS x WHERE x.id = $1',
  'postgres-load.ts: staging, is a staged id stored': `SELECT s.id FROM (VALUES ($1::bigint)) AS s (id)
     LEFT JOIN hired_employees AS t ON t.id = s.id WHERE t.id IS NOT NULL`,
  'postgres-load.ts: on_conflict=update, is a staged id stored': `SELECT EXISTS (SELECT 1 FROM hired_employees AS t WHERE t.id = s.id)
     FROM (VALUES ($1::bigint)) AS s (id)`,
};

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  Plans?: PlanNode[];
}
const nodes = (node: PlanNode): PlanNode[] => [node, ...(node.Plans ?? []).flatMap(nodes)];

describe.skipIf(!postgresBackend.available)('indexes [postgres]', () => {
  let database: TestDatabase;
  let store: PostgresStore;
  beforeAll(async () => {
    database = await postgresBackend.create();
    store = new PostgresStore({ connectionString: database.url, poolMax: 2 });
    await store.migrate();
  });
  afterAll(async () => {
    await store.close();
    await database.drop();
  });

  /** The plan's nodes; a few rows only, so sequential scans are priced out as on a big table. */
  const planOf = async (sql: string): Promise<PlanNode[]> => {
    const client = await store.pool.connect();
    try {
      await client.query('BEGIN');
      await client.query('SET LOCAL enable_seqscan = off');
      const params = Array.from({ length: (sql.match(/\$\d/g) ?? []).length }, (_, i) =>
        sql.includes(`$${i + 1}::bigint[]`) ? [1, 2] : 1,
      );
      const { rows } = await client.query<{ 'QUERY PLAN': { Plan: PlanNode }[] }>(`EXPLAIN (FORMAT JSON) ${sql}`, params);
      await client.query('ROLLBACK');
      return nodes(rows[0]!['QUERY PLAN'][0]!.Plan);
    } finally {
      client.release();
    }
  };

  it('hired_employees has only its primary key after the migrations', async () => {
    const { rows } = await store.pool.query<{ name: string }>(
      "SELECT indexname AS name FROM pg_indexes WHERE schemaname = current_schema() AND tablename = 'hired_employees'",
    );
    expect(rows.map((r) => r.name)).toEqual(['hired_employees_pkey']);
  });

  /** Every table is read through an index, and every index read is a primary key. */
  const byKeys = (plan: PlanNode[]): string[] => {
    expect(plan.map((n) => n['Node Type'])).not.toContain('Seq Scan');
    const indexes = plan.flatMap((n) => (n['Index Name'] === undefined ? [] : [n['Index Name']]));
    for (const index of indexes) expect(index).toMatch(/_pkey$/);
    return indexes;
  };

  it.each(Object.entries(POSTGRES_BY_ID))('%s: by the primary key', async (_name, sql) => {
    const plan = await planOf(sql);
    const relations = [...new Set(plan.flatMap((n) => (n['Relation Name'] === undefined ? [] : [n['Relation Name']])))];
    expect(relations).toHaveLength(1);
    expect(byKeys(plan)).toContain(`${relations[0]}_pkey`);
  });

  it.each(REPORTS)('the %s report reads hire_counts by its key, never hired_employees', async (name) => {
    const plan = await planOf(report(name, 'postgres').replace(/^--.*$/gm, ''));
    expect(plan.map((n) => n['Relation Name'])).not.toContain('hired_employees');
    expect(byKeys(plan)).toContain('hire_counts_pkey');
  });
});
