/**
 * An upload into an empty PostgreSQL table copies its rows into a fresh table without a key and
 * swaps it in at the end (postgres-load.ts, FreshTable). What must hold, through the HTTP stack:
 * the table keeps its name, indexes, constraints and count triggers; a repeated id anywhere (after
 * many segments, or twice in one chunk) is still rejected on its line, the rows so far moved into
 * the table itself; ids too far apart for the bitmap take the same way; a reader holding the old
 * table makes the rows be copied over instead; a second instance's upload queued behind it writes
 * into the new table; a client gone mid-upload leaves nothing. Expected rows, rejects and counts are
 * worked out here from the file, not read from the store.
 */
import { request } from 'node:http';
import { PassThrough } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import { listen } from '../helpers/app.js';
import type { TestDatabase } from '../helpers/backends.js';
import { postgresBackend } from '../helpers/postgres.js';
import { countsOf2021, storedCounts, storedHires, tableCatalog, tableOid } from '../helpers/hired-table.js';

type Hire = [number, string, string, number, number];

const hire = (id: number, name = `Hire ${id}`): Hire => [
  id,
  name,
  new Date(Date.UTC(2021, (id % 4) * 3, 1 + (id % 27))).toISOString(),
  1 + (id % 5),
  1 + (id % 3),
];
const csv = (rows: readonly Hire[]): string => rows.map((r) => `${r.join(',')}\n`).join('');

/** What an upload must keep of a file: the first line of each id, the others rejected on their line. */
function expected(file: readonly Hire[]): { kept: Hire[]; errors: { line: number; reason: string }[] } {
  const seen = new Set<number>();
  const kept: Hire[] = [];
  const errors: { line: number; reason: string }[] = [];
  file.forEach((row, i) => {
    if (seen.has(row[0])) errors.push({ line: i + 1, reason: `duplicate id ${row[0]}` });
    else {
      seen.add(row[0]);
      kept.push(row);
    }
  });
  return { kept: kept.sort((a, b) => a[0] - b[0]), errors };
}

describe.skipIf(!postgresBackend.available)('an upload into an empty table fills a fresh one and swaps it in [postgres]', () => {
  let db: TestDatabase;
  let store: PostgresStore;
  let app: FastifyInstance;
  let sql: pg.Pool;

  beforeAll(async () => {
    db = await postgresBackend.create();
    const config = loadConfig({}, { LOG_LEVEL: 'silent', DATABASE_URL: db.url });
    store = new PostgresStore({ connectionString: db.url, poolMax: 4, applyEvery: 500, swapWaitMs: 1500 });
    app = await buildApp(config, { store });
    sql = new pg.Pool({ connectionString: db.url, max: 3 });
  });
  afterAll(async () => {
    await app?.close();
    await store?.close();
    await sql?.end();
    await db?.drop();
  });
  beforeEach(async () => {
    await store.reset();
  });

  const upload = (body: string | PassThrough, on: FastifyInstance = app) =>
    on.inject({ method: 'POST', url: '/upload/hired_employees?batch_size=300', payload: body, headers: { 'content-type': 'text/csv' } });
  const oid = () => tableOid(sql);
  const catalog = () => tableCatalog(sql);
  const stored = () => storedHires<Hire>(sql);
  const counts = () => storedCounts(sql);
  const tables = async (): Promise<string[]> => (await catalog()).tables.map((t: { tablename: string }) => t.tablename);

  it('distinct ids: a new table by the old name, same indexes, constraints and triggers; rows and counts the file; later writes counted', async () => {
    const before = await catalog();
    const oldOid = await oid();
    const file = Array.from({ length: 3000 }, (_, i) => hire(3000 - i));
    const res = await upload(csv(file));
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({ status: 'committed', inserted: 3000, rejected: 0 });
    expect(await oid()).not.toBe(oldOid);
    expect(await catalog()).toEqual(before);
    expect(await stored()).toEqual(expected(file).kept);
    expect(await counts()).toEqual(countsOf2021(file));

    const batch = await app.inject({
      method: 'POST',
      url: '/batch/hired_employees',
      payload: [{ id: 5000, name: 'New', datetime: '2021-02-01T00:00:00Z', department_id: 3, job_id: 2 }],
    });
    expect(batch.statusCode, batch.body).toBe(201);
    const again = await upload(csv([hire(17), hire(6000)]));
    expect(again.json()).toMatchObject({ inserted: 1, rejected: 1, errors: [{ line: 1, reason: 'duplicate id 17' }] });
    const after = [...file, [5000, 'New', '2021-02-01T00:00:00.000Z', 3, 2] as Hire, hire(6000)];
    expect(await counts()).toEqual(countsOf2021(after));
    expect(await stored()).toEqual(expected(after).kept);
  });

  it('an id repeated after many segments and twice within one chunk: rejected on their lines, the rest kept, no fresh table left', async () => {
    const before = await catalog();
    const oldOid = await oid();
    const file = Array.from({ length: 4000 }, (_, i) => hire(i + 1));
    file.splice(2600, 0, hire(2600, 'Twice in a chunk'));
    file.splice(3500, 0, hire(7, 'Again'));
    file.push(hire(3999, 'Last'));
    const want = expected(file);
    expect(want.errors).toHaveLength(3);
    const res = await upload(csv(file));
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({ status: 'committed', inserted: 4000, rejected: 3, errors: want.errors });
    expect(await oid()).toBe(oldOid);
    expect(await catalog()).toEqual(before);
    expect(await stored()).toEqual(want.kept);
    expect(await counts()).toEqual(countsOf2021(want.kept));
  });

  it('a repeat in the very first chunk: the same rejects as into a table with rows', async () => {
    const file = [hire(1), hire(2), hire(1, 'Again'), hire(3)];
    const want = expected(file);
    const res = await upload(csv(file));
    expect(res.json()).toMatchObject({ inserted: 3, rejected: 1, errors: want.errors });
    expect(await stored()).toEqual(want.kept);
    expect(await counts()).toEqual(countsOf2021(want.kept));
  });

  it('ids too far apart for the bitmap: the rows move into the table itself and all are kept, counts exact', async () => {
    const oldOid = await oid();
    // One id per 32,768: a page of the bitmap each, past its 4,096 pages.
    const file = Array.from({ length: 5000 }, (_, i) => hire((i + 1) * 32_768));
    const res = await upload(csv(file));
    expect(res.json()).toMatchObject({ status: 'committed', inserted: 5000, rejected: 0 });
    expect(await oid()).toBe(oldOid);
    expect(await stored()).toEqual(expected(file).kept);
    expect(await counts()).toEqual(countsOf2021(file));
    expect(await tables()).not.toContain('hired_employees_restore');
  });

  it('a reader holding the old table past the wait: the rows are copied over into it, counts exact', async () => {
    const reader = await sql.connect();
    try {
      await reader.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
      await reader.query('SELECT id FROM hired_employees LIMIT 1');
      const oldOid = await oid();
      const file = Array.from({ length: 1500 }, (_, i) => hire(i + 1));
      const started = Date.now();
      const res = await upload(csv(file));
      expect(res.json()).toMatchObject({ status: 'committed', inserted: 1500 });
      // It waited for the reader (swapWaitMs 1500) before copying over.
      expect(Date.now() - started).toBeGreaterThanOrEqual(1400);
      expect(await oid()).toBe(oldOid);
      expect(Number((await reader.query('SELECT count(*) AS n FROM hired_employees')).rows[0].n)).toBe(0);
      await reader.query('COMMIT');
      expect(await stored()).toEqual(expected(file).kept);
      expect(await counts()).toEqual(countsOf2021(file));
      expect(await tables()).not.toContain('hired_employees_restore');
    } finally {
      await reader.query('ROLLBACK').catch(() => undefined);
      reader.release();
    }
  });

  it("a second instance's upload queued behind it writes into the new table: its repeats rejected, its new rows counted", async () => {
    const second = await buildApp(loadConfig({}, { LOG_LEVEL: 'silent', DATABASE_URL: db.url }));
    try {
      const first = Array.from({ length: 2000 }, (_, i) => hire(i + 1));
      const body = new PassThrough();
      const uploading = upload(body);
      body.write(csv(first.slice(0, 1000)));
      // The first upload holds the table's write lock while the rest of its file is held back.
      let copying = false;
      for (let i = 0; i < 200 && !copying; i++) {
        copying = (await sql.query(`SELECT 1 FROM pg_stat_activity WHERE query LIKE 'COPY %hired_employees_restore%'`)).rows.length > 0;
        if (!copying) await new Promise((resolve) => setTimeout(resolve, 20));
      }
      expect(copying).toBe(true);
      const other = [hire(1500, 'Other'), hire(2500), hire(2501)];
      const queued = upload(csv(other), second);
      await new Promise((resolve) => setTimeout(resolve, 300));
      body.end(csv(first.slice(1000)));
      expect((await uploading).json()).toMatchObject({ status: 'committed', inserted: 2000 });
      const res = await queued;
      expect(res.json()).toMatchObject({
        status: 'committed',
        inserted: 2,
        rejected: 1,
        errors: [{ line: 1, reason: 'duplicate id 1500' }],
      });
      const all = [...first, ...other];
      expect(await stored()).toEqual(expected(all).kept);
      expect(await counts()).toEqual(countsOf2021(expected(all).kept));
    } finally {
      await second.close();
    }
  });

  it('a client gone mid-upload: nothing kept, no fresh table left, the next upload goes the same way', async () => {
    const url = await listen(app);
    const req = request(`${url}/upload/hired_employees?batch_size=100`, { method: 'POST', headers: { 'content-type': 'text/csv' } });
    req.on('error', () => undefined);
    let next = 1;
    let copying = false;
    while (!copying) {
      req.write(csv(Array.from({ length: 100 }, (_, i) => hire(next + i))));
      next += 100;
      await new Promise((resolve) => setTimeout(resolve, 10));
      copying = (await sql.query(`SELECT 1 FROM pg_stat_activity WHERE query LIKE 'COPY %hired_employees_restore%'`)).rows.length > 0;
      if (next > 200_000) throw new Error('the upload never reached its COPY');
    }
    req.destroy();
    for (let i = 0; i < 200; i++) {
      const open = await sql.query(`SELECT 1 FROM pg_stat_activity WHERE query LIKE 'COPY %hired_employees_restore%' AND state = 'active'`);
      const locked = await sql.query(
        `SELECT 1 FROM pg_locks WHERE relation = 'hired_employees'::regclass AND mode = 'ShareRowExclusiveLock'`,
      );
      if (open.rows.length === 0 && locked.rows.length === 0) break;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    expect(await stored()).toEqual([]);
    expect(await counts()).toEqual({});
    expect(await tables()).not.toContain('hired_employees_restore');
    const oldOid = await oid();
    const file = Array.from({ length: 800 }, (_, i) => hire(i + 10));
    expect((await upload(csv(file))).json()).toMatchObject({ status: 'committed', inserted: 800 });
    expect(await oid()).not.toBe(oldOid);
    expect(await stored()).toEqual(expected(file).kept);
    expect(await counts()).toEqual(countsOf2021(file));
  });
});
