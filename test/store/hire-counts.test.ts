/**
 * hire_counts is kept by triggers for every write except bulk loads, which count their own inserts
 * in memory and add them in the same transaction: on SQLite without the per-row insert trigger
 * (store/sqlite/hire-count-buffer.ts), on PostgreSQL with the statement trigger's work turned off
 * for the load's transaction until it falls back to staging (store/postgres/hire-count-tally.ts).
 * Whatever path a row took, the maintained counts must equal a full recount of hired_employees,
 * and the trigger must be there for everyone else after every load.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateCsv } from '../../src/cli/gen/lines.js';
import type { Backend } from '../helpers/backends.js';
import { postgresBackend } from '../helpers/postgres.js';
import { startApp, type TestApp } from '../helpers/app.js';
import { historical } from '../helpers/http.js';

// The triggers' own expressions, over the whole table.
const RECOUNT_SQLITE = `SELECT CAST(substr(datetime, 1, 4) AS INTEGER) AS year, (CAST(substr(datetime, 6, 2) AS INTEGER) + 2) / 3 AS quarter,
    department_id, COALESCE(job_id, 0) AS job_id, COUNT(*) AS hires
  FROM hired_employees WHERE datetime IS NOT NULL AND department_id IS NOT NULL
  GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4`;
const RECOUNT_POSTGRES = `SELECT EXTRACT(YEAR FROM datetime AT TIME ZONE 'UTC')::int AS year,
    EXTRACT(QUARTER FROM datetime AT TIME ZONE 'UTC')::int AS quarter, department_id::float8 AS department_id,
    COALESCE(job_id, 0)::float8 AS job_id, COUNT(*)::int AS hires
  FROM hired_employees WHERE datetime IS NOT NULL AND department_id IS NOT NULL
  GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4`;
const MAINTAINED_POSTGRES =
  'SELECT year, quarter, department_id::float8 AS department_id, job_id::float8 AS job_id, hires::int AS hires FROM hire_counts WHERE hires <> 0 ORDER BY 1, 2, 3, 4';
const TRIGGERS_SQLITE = "SELECT name FROM sqlite_master WHERE type = 'trigger' ORDER BY name";
const TRIGGERS_POSTGRES =
  "SELECT tgname AS name FROM pg_trigger WHERE tgrelid = 'hired_employees'::regclass AND NOT tgisinternal ORDER BY 1";
const MAINTAINED = 'SELECT year, quarter, department_id, job_id, hires FROM hire_counts WHERE hires <> 0 ORDER BY 1, 2, 3, 4';

const dir = mkdtempSync(join(tmpdir(), 'hr-counts-'));
const backends: Backend[] = [
  { name: 'sqlite', available: true, create: async () => ({ url: 'sqlite::memory:', drop: async () => undefined }) },
  {
    name: 'sqlite',
    available: true,
    create: async () => {
      const file = join(dir, `${Math.random().toString(36).slice(2)}.db`);
      return { url: `sqlite:${file}`, drop: async () => rmSync(file, { force: true }) };
    },
  },
  postgresBackend,
];
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const generated = (rows: number, seed: number) => [...generateCsv({ table: 'hired_employees', rows, seed })].join('');

describe.each([
  ['SQLite in memory', 0],
  ['SQLite in a WAL file with a separate reader', 1],
  ['PostgreSQL', 2],
])('hire_counts equals a recount of hired_employees [%s]', (_name, index) => {
  const pg = index === 2;
  if (pg && !postgresBackend.available) return;
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp(backends[index]!, { UPLOAD_MAX_BYTES: 4 * 1024 * 1024, LOG_LEVEL: 'error' });
  });
  afterAll(() => t.close());

  const upload = (body: string | Buffer, query = '') =>
    t.app.inject({ method: 'POST', url: `/upload/hired_employees${query}`, payload: body, headers: { 'content-type': 'text/csv' } });
  const batch = (rows: object[]) => t.app.inject({ method: 'POST', url: '/batch/hired_employees', payload: rows });
  const rows = (sql: string) => t.app.store.query(sql, []);
  const expectExact = async () => {
    const recount = await rows(pg ? RECOUNT_POSTGRES : RECOUNT_SQLITE);
    expect(await rows(pg ? MAINTAINED_POSTGRES : MAINTAINED)).toEqual(recount);
    // The insert trigger a bulk load drops inside its transaction is always there for others.
    expect(await rows(pg ? TRIGGERS_POSTGRES : TRIGGERS_SQLITE)).toEqual([
      { name: 'hire_counts_after_delete' },
      { name: 'hire_counts_after_insert' },
      { name: 'hire_counts_after_update' },
    ]);
    return recount;
  };

  it('after uploads with empty fields, duplicate ids and small chunks, including more keys than the buffer holds', async () => {
    expect((await upload(historical('hired_employees'))).json()).toMatchObject({ inserted: 1999, incomplete: 70 });
    await expectExact();
    // 20,000 generated rows: ids 1..1999 are duplicates (rejected), ~15,000 distinct keys in one load.
    const big = (await upload(generated(20_000, 11), '?batch_size=7')).json();
    expect(big).toMatchObject({ status: 'committed', inserted: 18_001, rejected: 1999 });
    expect((await expectExact()).length).toBeGreaterThan(10_000);
    // Hires over 30 years (120 quarters): the buffer is flushed during the load, more than once.
    const decades = Array.from({ length: 600 }, (_, i) => {
      const month = String((i % 12) + 1).padStart(2, '0');
      return `${80_001 + i},Old,${1990 + Math.floor(i / 20)}-${month}-15T12:00:00Z,${(i % 12) + 1},${(i % 183) + 1}`;
    });
    expect((await upload(decades.join('\n'))).json()).toMatchObject({ inserted: 600 });
    await expectExact();
    // Ids too large for the buffer's dense arrays take its other path.
    const large = [
      '70001,A,2021-05-05T00:00:00Z,300000,1',
      '70002,B,2021-05-06T00:00:00Z,300000,',
      '70003,C,2021-05-07T00:00:00Z,2,9007199254740991',
    ];
    expect((await upload(large.join('\n'))).json()).toMatchObject({ inserted: 3 });
    await expectExact();
  });

  it('after upserts that move rows to another department, job or quarter, or to no date, in the same file as their insert', async () => {
    const text = [
      '30001,New,2030-01-15T00:00:00Z,1,1', // inserted by this upload, in a quarter no other row has…
      '30001,New,2021-11-15T00:00:00Z,2,', // …then updated by it: 2030 Q1 dept 1 job 1 → 2021 Q4 dept 2 job 0
      '5,Moved,2019-05-01T00:00:00Z,12,183', // a stored row moved
      '6,Undated,,3,3', // a stored row that stops counting
      '7,No department,2020-01-01T00:00:00Z,,4', // …and another
      '30002,Later,2022-02-02T00:00:00+05:00,4,4', // inserted after the updates, offset normalized
      '5,Moved again,2018-12-31T23:59:59-01:00,11,', // updated twice; 2019 Q1 in UTC
    ].join('\r\n');
    expect((await upload(text, '?on_conflict=update&batch_size=3')).json()).toMatchObject({ inserted: 2, updated: 5, rejected: 0 });
    await expectExact();
    const moved = (await rows('SELECT datetime, department_id, job_id FROM hired_employees WHERE id IN (5, 30001) ORDER BY id')).map(
      (r) => ({
        datetime: (r.datetime as unknown) instanceof Date ? (r.datetime as unknown as Date).toISOString() : r.datetime,
        department_id: Number(r.department_id),
        job_id: r.job_id === null ? null : Number(r.job_id),
      }),
    );
    expect(moved).toEqual([
      { datetime: '2019-01-01T00:59:59.000Z', department_id: 11, job_id: null },
      { datetime: '2021-11-15T00:00:00.000Z', department_id: 2, job_id: null },
    ]);
    // Within one 64-row INSERT: ids repeated a few rows later, as upserts, then as rejects.
    const repeats = (base: number, year: number) =>
      Array.from({ length: 300 }, (_, i) => {
        const id = i % 10 === 9 ? base + i - 3 : base + i;
        return `${id},R${i},${year + (i % 3)}-0${(i % 9) + 1}-01T00:00:00Z,${(i % 12) + 1},${i % 7 === 0 ? '' : (i % 183) + 1}`;
      }).join('\n');
    expect((await upload(repeats(90_000, 2031), '?on_conflict=update')).json()).toMatchObject({ inserted: 270, updated: 30, rejected: 0 });
    // The later row of the file wins, as row by row.
    expect(await rows('SELECT name FROM hired_employees WHERE id IN (90006, 90296) ORDER BY id')).toEqual([
      { name: 'R9' },
      { name: 'R299' },
    ]);
    await expectExact();
    const rejected = (await upload(repeats(95_000, 2021))).json();
    expect(rejected).toMatchObject({ inserted: 270, updated: 0, rejected: 30 });
    expect(rejected.errors.slice(0, 3)).toEqual([
      { line: 10, reason: 'duplicate id 95006' },
      { line: 20, reason: 'duplicate id 95016' },
      { line: 30, reason: 'duplicate id 95026' },
    ]);
    await expectExact();
    // A whole file again as upserts: every row an update, nothing inserted.
    expect((await upload(generated(3000, 12), '?on_conflict=update')).json()).toMatchObject({ inserted: 0, updated: 3000 });
    await expectExact();
  });

  it('after batches, dry runs and uploads that fail or are cut off after chunks were written', async () => {
    const res = await batch([
      { id: 40001, name: 'Batch A', datetime: '2021-03-03T03:03:03Z', department_id: 1, job_id: 1 },
      { id: 40002, name: 'Batch B', datetime: '2021-06-06T06:06:06Z', department_id: 2, job_id: 2 },
    ]);
    expect(res.statusCode).toBe(201);
    const before = await expectExact();

    const dry = (await upload(generated(25_000, 13).replace(/^1,/, '50001,'), '?dry_run=true')).json();
    expect(dry).toMatchObject({ status: 'dry_run' });
    expect(await expectExact()).toEqual(before);

    // Malformed CSV far into the file: earlier chunks were written, then everything is rolled back.
    const broken = `${[...generateCsv({ table: 'hired_employees', rows: 5000, seed: 14 })].join('').replace(/^(\d+),/gm, (_m, id: string) => `${Number(id) + 60_000},`)}1,"never closed\r\n`;
    const failed = await upload(broken, '?batch_size=100');
    expect(failed.statusCode).toBe(400);
    expect(await expectExact()).toEqual(before);

    // Over the size limit mid-stream (413): the same.
    const huge = generated(100_000, 15).replace(/^(\d+),/gm, (_m, id: string) => `${Number(id) + 100_000},`);
    const cut = await upload(huge, '?batch_size=500');
    expect(cut.statusCode).toBe(413);
    expect(await expectExact()).toEqual(before);

    // A batch with a duplicate id inserts nothing.
    expect(
      (
        await batch([
          { id: 40003, name: 'C', datetime: '2021-01-01T00:00:00Z', department_id: 1, job_id: 1 },
          { id: 40001, name: 'Dup', datetime: '2021-01-01T00:00:00Z', department_id: 1, job_id: 1 },
        ])
      ).statusCode,
    ).toBe(409);
    expect(await expectExact()).toEqual(before);
  });

  it.runIf(index === 1)('while a load streams, other connections still see the trigger, and a batch waiting on it counts', async () => {
    let release!: () => void;
    const halfway = new Promise<void>((resolve) => (release = resolve));
    const text = generated(4000, 17).replace(/^(\d+),/gm, (_m, id: string) => `${Number(id) + 200_000},`);
    const cut = text.indexOf('\r\n', text.length / 2) + 2;
    const body = Readable.from(
      (async function* () {
        yield text.slice(0, cut);
        await halfway;
        yield text.slice(cut);
      })(),
    );
    const loading = t.app.inject({
      method: 'POST',
      url: '/upload/hired_employees?batch_size=100',
      payload: body,
      headers: { 'content-type': 'text/csv' },
    });
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(await rows("SELECT name FROM sqlite_master WHERE name = 'hire_counts_after_insert'")).toEqual([
      { name: 'hire_counts_after_insert' },
    ]);
    const batched = batch([{ id: 300_001, name: 'Waits', datetime: '2031-01-01T00:00:00Z', department_id: 1, job_id: 1 }]);
    release();
    expect((await loading).json()).toMatchObject({ inserted: 4000 });
    expect((await batched).statusCode).toBe(201);
    await expectExact();
  });

  it('after a reset, and after loading again', async () => {
    expect((await t.app.inject({ method: 'POST', url: '/reset-db' })).statusCode).toBe(200);
    expect(await expectExact()).toEqual([]);
    expect((await upload(generated(5000, 16))).json()).toMatchObject({ inserted: 5000 });
    await expectExact();
  });
});
