/**
 * A big load into a SQLite file drops the table's secondary indexes inside its transaction and
 * builds them again after its commit on a worker thread (store/sqlite/index-builder.ts). Whatever
 * happens to the load, the indexes end up exactly as the schema defines them.
 *
 * hired_employees has no secondary index since migration 008 (nothing read them), so this file
 * declares three (src/store/ddl.ts), as a future query needing them would: the store's migrate()
 * then creates them, and the loads below work with them as they would with any declared index.
 */
import Database from 'better-sqlite3';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateCsv } from '../../src/cli/gen/lines.js';
import { SECONDARY_INDEXES } from '../../src/store/ddl.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { DEFER_INDEXES_AFTER, type IndexDeferral } from '../../src/store/sqlite/sqlite-load.js';
import type { StagedRow } from '../../src/store/store.js';
import { TABLES } from '../../src/tables.js';
import { startApp, type TestApp } from '../helpers/app.js';
import { historical } from '../helpers/http.js';

const dir = mkdtempSync(join(tmpdir(), 'hr-index-deferral-'));
const file = join(dir, 'db.sqlite');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const declared = SECONDARY_INDEXES.hired_employees as (readonly string[])[];
declared.push(['datetime'], ['department_id'], ['job_id']);
afterAll(() => {
  declared.length = 0;
});

const INDEXES = "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'hired_employees' ORDER BY name";
const foreign = <T>(fn: (db: Database.Database) => T): T => {
  const db = new Database(file);
  try {
    return fn(db);
  } finally {
    db.close();
  }
};

describe('indexes of a big SQLite load are built after its commit', () => {
  let t: TestApp;
  let schema: unknown[];
  const rows = DEFER_INDEXES_AFTER + 10_000;
  const generated = (offset: number) =>
    [...generateCsv({ table: 'hired_employees', rows, seed: 5 })]
      .join('')
      .replace(/^(\d+),/gm, (_m, id: string) => `${Number(id) + offset},`);
  const upload = (body: string, query = '') =>
    t.app.inject({ method: 'POST', url: `/upload/hired_employees${query}`, payload: body, headers: { 'content-type': 'text/csv' } });

  beforeAll(async () => {
    t = await startApp({ name: 'sqlite', available: true, create: async () => ({ url: `sqlite:${file}`, drop: async () => undefined }) });
    for (const table of ['departments', 'jobs'] as const) {
      await t.app.inject({ method: 'POST', url: `/upload/${table}`, payload: historical(table), headers: { 'content-type': 'text/csv' } });
    }
    schema = foreign((db) => db.prepare(INDEXES).all());
    expect(schema).toHaveLength(3);
  });
  afterAll(() => t.close());

  it('keeps them through a dry run and a load that fails far into the file', async () => {
    expect((await upload(generated(0), '?dry_run=true')).json()).toMatchObject({ status: 'dry_run', inserted: rows });
    expect(foreign((db) => db.prepare(INDEXES).all())).toEqual(schema);
    const failed = await upload(`${generated(0)}1,"never closed\r\n`);
    expect(failed.statusCode).toBe(400);
    expect(foreign((db) => db.prepare(INDEXES).all())).toEqual(schema);
    expect(foreign((db) => db.prepare('SELECT COUNT(*) FROM hired_employees').pluck().get())).toBe(0);
  });

  it('has them back, whole and used, when the upload answers', async () => {
    expect((await upload(generated(0))).json()).toMatchObject({ status: 'committed', inserted: rows });
    foreign((db) => {
      expect(db.prepare(INDEXES).all()).toEqual(schema);
      expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
      const plan = db.prepare("EXPLAIN QUERY PLAN SELECT id FROM hired_employees WHERE datetime >= '2021-01-01'").all() as {
        detail: string;
      }[];
      expect(plan.map((p) => p.detail).join(' ')).toContain('hired_employees_datetime_idx');
      // Every row is in every index.
      for (const column of ['datetime', 'department_id', 'job_id']) {
        const indexed = db
          .prepare(`SELECT COUNT(*) FROM hired_employees INDEXED BY hired_employees_${column}_idx WHERE ${column} IS NOT NULL`)
          .pluck()
          .get();
        const scanned = db.prepare(`SELECT COUNT(*) FROM hired_employees NOT INDEXED WHERE ${column} IS NOT NULL`).pluck().get();
        expect(indexed).toBe(scanned);
      }
    });
    // A second big load into the table it filled keeps them in place (fewer rows than stored).
    expect((await upload(generated(rows))).json()).toMatchObject({ status: 'committed', inserted: rows });
    expect(foreign((db) => db.prepare(INDEXES).all())).toEqual(schema);
    expect(foreign((db) => db.pragma('integrity_check', { simple: true }))).toBe('ok');
  });

  it('builds indexes a crash left missing when the store starts', async () => {
    foreign((db) => db.exec('DROP INDEX hired_employees_datetime_idx; DROP INDEX hired_employees_job_id_idx'));
    const store = new SqliteStore({ path: file });
    try {
      await store.migrate();
    } finally {
      await store.close();
    }
    expect(foreign((db) => db.prepare(INDEXES).all())).toEqual(schema);
  });
});

describe('which loads defer their indexes', () => {
  const other = join(dir, 'other.sqlite');
  let store: SqliteStore;
  const builds: string[][] = [];
  /** Makes the worker's build fail, as a worker that cannot start would. */
  let workerFails = false;
  beforeAll(async () => {
    store = new SqliteStore({ path: other });
    await store.migrate();
    // Observe the store's own builder: what each load handed it, after its commit.
    const deferral = (store as unknown as { indexDeferral: IndexDeferral }).indexDeferral;
    const build = deferral.build.bind(deferral);
    deferral.build = async (statements) => {
      builds.push([...statements]);
      if (workerFails) throw new Error('no worker');
      return build(statements);
    };
  });
  afterAll(() => store.close());

  const load = async (from: number, count: number) => {
    const session = await store.openLoad(TABLES.hired_employees, { onConflict: 'reject', checkReferences: false });
    for (let start = from; start < from + count; start += 1000) {
      const chunk: StagedRow[] = [];
      for (let id = start; id < Math.min(from + count, start + 1000); id++) {
        chunk.push({ line: id, raw: '', values: [id, 'N', '2021-01-01T00:00:00Z', 1, 1], incomplete: false });
      }
      await session.write(chunk);
    }
    await session.finish();
    await session.commit(
      {
        upload_id: randomUUID(),
        table: 'hired_employees',
        source: 'csv',
        status: 'committed',
        received: count,
        inserted: count,
        updated: 0,
        rejected: 0,
        incomplete: 0,
        batch_size: 1000,
        strict: false,
        dry_run: false,
        on_conflict: 'reject',
        started_at: new Date().toISOString(),
        elapsed_ms: 0,
        message: null,
      },
      (async function* () {})(),
    );
  };

  it('a load smaller than the threshold keeps the indexes up to date row by row', async () => {
    await load(1, DEFER_INDEXES_AFTER - 1000);
    expect(builds).toEqual([]);
  });

  it('a load past the threshold and past what the table holds builds the three of them after its commit', async () => {
    await load(DEFER_INDEXES_AFTER, DEFER_INDEXES_AFTER + 2000);
    expect(builds).toHaveLength(1);
    expect(builds[0]!.map((sql) => /CREATE INDEX "?(\w+)"?/.exec(sql)?.[1])).toEqual([
      'hired_employees_datetime_idx',
      'hired_employees_department_id_idx',
      'hired_employees_job_id_idx',
    ]);
  });

  it('a load past the threshold but smaller than what the table holds does not', async () => {
    await load(1_000_000, DEFER_INDEXES_AFTER + 1000);
    expect(builds).toHaveLength(1);
  });

  it('builds them on the event loop when the worker cannot', async () => {
    await store.reset();
    workerFails = true;
    try {
      await load(1, DEFER_INDEXES_AFTER + 1000);
    } finally {
      workerFails = false;
    }
    expect(builds).toHaveLength(2);
    const indexes = await store.query(
      "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'hired_employees' AND sql IS NOT NULL ORDER BY name",
      [],
    );
    expect(indexes.map((r) => r.name)).toEqual([
      'hired_employees_datetime_idx',
      'hired_employees_department_id_idx',
      'hired_employees_job_id_idx',
    ]);
  });
});
