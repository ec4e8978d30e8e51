/**
 * SQLite and PostgreSQL give the same answers, byte for byte: the historical files and a
 * generated file of 100,000 rows (offsets, empty fields, duplicates, bad rows) go through POST
 * /upload on both, and every upload report (but its id and timings), rejected-rows file and
 * report body must be identical. On PostgreSQL the statement-level triggers' hire_counts must
 * also equal a full recount of hired_employees after every kind of write.
 */
import type { InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type TestApp } from '../helpers/app.js';
import { sqliteBackend } from '../helpers/backends.js';
import { historical } from '../helpers/http.js';
import { postgresBackend } from '../helpers/postgres.js';

const YEARS = [2019, 2020, 2021, 2022, 2023, 2024];

/** A deterministic pseudo-random generator (mulberry32), so both backends get the same file. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

// Instants next to a quarter's or a year's edge, where only the UTC conversion decides.
const EDGES = [
  '2021-12-31T23:30:00-03:00',
  '2022-01-01T01:00:00+05:30',
  '2020-03-31T22:00:00-05:00',
  '2023-07-01T00:30:00+01:00',
  '2021-09-30T23:59:59.999Z',
  '2020-12-31 21:00:00-0300',
];

/**
 * hired_employees rows with ids `from`..`to`: datetimes over 2020–2023 with offsets, names with
 * commas and quotes, some empty fields, references to departments and jobs that do not exist,
 * some bad rows, and some lines repeating an earlier id with other values.
 */
function employees(from: number, to: number, seed: number, departments = 13): string {
  const rand = random(seed);
  const int = (n: number) => Math.floor(rand() * n);
  const offsets = ['Z', 'Z', 'Z', '+05:30', '-03:00', '+00:00', '-0800', '+14:00', '-12:00'];
  const lines: string[] = [];
  const row = (id: number | string, tag: string) => {
    const year = 2020 + int(4);
    const datetime =
      rand() < 0.01
        ? EDGES[int(EDGES.length)]!
        : `${year}-${pad(1 + int(12))}-${pad(1 + int(28))}T${pad(int(24))}:${pad(int(60))}:${pad(int(60))}${rand() < 0.1 ? `.${pad(int(1000), 3)}` : ''}${offsets[int(offsets.length)]}`;
    const name = rand() < 0.05 ? `"${tag} ${id}, ""Jr."""` : `${tag} ${id}`;
    const fields = [String(id), name, datetime, String(1 + int(departments)), String(1 + int(185))];
    for (const i of [1, 2, 3, 4]) if (rand() < 0.006) fields[i] = '';
    return fields.join(',');
  };
  for (let id = from; id <= to; id++) {
    const r = rand();
    if (r < 0.001) lines.push(`${id},Bad ${id},2021-02-30T10:00:00Z,1,1`);
    else if (r < 0.002) lines.push(`${id},Short ${id},2021-01-01T00:00:00Z,1`);
    else if (r < 0.003) lines.push(`x${id},Nan ${id},2021-01-01T00:00:00Z,1,1`);
    else if (r < 0.004) lines.push(`${id},Zero ${id},2021-01-01T00:00:00Z,0,1`);
    else lines.push(row(id, 'Employee'));
    if (rand() < 0.01) lines.push(row(from + int(id - from + 1), 'Again'));
  }
  return lines.join(rand() < 0.5 ? '\n' : '\r\n') + '\n';
}

const RECOUNT = `SELECT EXTRACT(YEAR FROM datetime AT TIME ZONE 'UTC')::int AS year,
    EXTRACT(QUARTER FROM datetime AT TIME ZONE 'UTC')::int AS quarter, department_id, COALESCE(job_id, 0) AS job_id, count(*)::int AS hires
  FROM hired_employees WHERE datetime IS NOT NULL AND department_id IS NOT NULL
  GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4`;
const MAINTAINED = 'SELECT year, quarter, department_id, job_id, hires FROM hire_counts WHERE hires <> 0 ORDER BY 1, 2, 3, 4';

describe.skipIf(!postgresBackend.available)('SQLite and PostgreSQL answer the same', () => {
  let sqlite: TestApp;
  let postgres: TestApp;
  beforeAll(async () => {
    [sqlite, postgres] = await Promise.all([startApp(sqliteBackend), startApp(postgresBackend)]);
  });
  afterAll(async () => {
    await Promise.all([sqlite?.close(), postgres?.close()]);
  });

  /** The same request on both apps; answers their bodies (status checked equal). */
  const both = async (request: InjectOptions) => {
    const [a, b] = await Promise.all([sqlite.app.inject(request), postgres.app.inject(request)]);
    expect(b.statusCode, `${JSON.stringify(request).slice(0, 80)}: ${b.body.slice(0, 300)}`).toBe(a.statusCode);
    return { sqlite: a, postgres: b };
  };

  /** Uploads a CSV to both; the reports must match but for their id and timings. Answers both upload ids. */
  const upload = async (table: string, text: string | Buffer, query = '') => {
    const answers = await both({ method: 'POST', url: `/upload/${table}${query}`, payload: text, headers: { 'content-type': 'text/csv' } });
    expect(answers.sqlite.statusCode).toBe(200);
    const strip = (body: string) => {
      const { upload_id: _id, started_at: _at, elapsed_ms: _ms, ...rest } = JSON.parse(body) as Record<string, unknown>;
      return rest;
    };
    expect(strip(answers.postgres.body)).toEqual(strip(answers.sqlite.body));
    const ids = { sqlite: answers.sqlite.json().upload_id as string, postgres: answers.postgres.json().upload_id as string };
    // The logged rejects, as the user downloads them.
    const [a, b] = await Promise.all([
      sqlite.app.inject(`/uploads/${ids.sqlite}/rejects.csv?annotate=true`),
      postgres.app.inject(`/uploads/${ids.postgres}/rejects.csv?annotate=true`),
    ]);
    expect(b.body).toBe(a.body);
    return answers.sqlite.json() as { received: number; inserted: number; updated: number; rejected: number; incomplete: number };
  };

  /** Every report, the year list and the row counts: byte-identical bodies. */
  const sameReports = async () => {
    for (const url of ['/tables', '/metrics/years']) {
      const { sqlite: a, postgres: b } = await both({ method: 'GET', url });
      expect(b.body).toBe(a.body);
    }
    for (const year of YEARS) {
      for (const report of ['hired-employees', 'departments-above-mean']) {
        for (const format of ['json', 'csv']) {
          const { sqlite: a, postgres: b } = await both({ method: 'GET', url: `/metrics/${report}?year=${year}&format=${format}` });
          expect(b.body, `${report} ${year} ${format}`).toBe(a.body);
        }
      }
    }
  };

  /** hire_counts on PostgreSQL equals a recount of its hired_employees, and SQLite's maintained counts. */
  const countsExact = async () => {
    // hires is BIGINT: the store reads it as a number, as it does every id.
    const maintained = await postgres.app.store.query(MAINTAINED, []);
    expect(maintained).toEqual(await postgres.app.store.query(RECOUNT, []));
    expect(await postgres.app.store.query('SELECT count(*)::int AS n FROM hire_counts WHERE hires < 0', [])).toEqual([{ n: 0 }]);
    expect(maintained).toEqual(await sqlite.app.store.query(MAINTAINED, []));
  };

  it('for the historical files', async () => {
    await both({ method: 'POST', url: '/reset-db' });
    await upload('hired_employees', historical('hired_employees'));
    await upload('departments', historical('departments'));
    await upload('jobs', historical('jobs'), '?batch_size=50');
    await sameReports();
    await countsExact();
  });

  it('for 100,000 generated rows, then an upsert of some of them, a strict upload, batches and a reset', async () => {
    await both({ method: 'POST', url: '/reset-db' });
    await upload('departments', historical('departments'));
    await upload('jobs', historical('jobs'));
    const first = await upload('hired_employees', employees(1, 100_000, 7));
    expect(first.received).toBeGreaterThan(100_000);
    expect(first.inserted).toBeGreaterThan(99_000);
    expect(first.rejected).toBeGreaterThan(1000);
    expect(first.incomplete).toBeGreaterThan(1000);
    const quarters = (await postgres.app.inject('/metrics/hired-employees?year=2021')).json() as unknown[];
    expect(quarters.length).toBeGreaterThan(1000);
    await sameReports();
    await countsExact();

    // Upsert: new departments and datetimes for about a fifth of the ids, new ids, repeated ids (last line wins).
    const changed = await upload('hired_employees', employees(80_001, 105_000, 11), '?on_conflict=update&batch_size=5000');
    expect(changed.updated).toBeGreaterThan(20_000);
    expect(changed.inserted).toBeGreaterThan(4000);
    await sameReports();
    await countsExact();

    // Strict: incomplete rows and unknown references (department 13, jobs 184 and 185) rejected.
    const strict = await upload('hired_employees', employees(200_001, 203_000, 13), '?strict=true');
    expect(strict.rejected).toBeGreaterThan(100);
    await upload('hired_employees', employees(300_001, 301_000, 17), '?dry_run=true');
    await sameReports();
    await countsExact();

    const batch = Array.from({ length: 500 }, (_, i) => ({
      id: 400_001 + i,
      name: `Batch ${i}`,
      datetime: EDGES[i % EDGES.length]!.replace(' ', 'T'),
      department_id: 1 + (i % 12),
      job_id: 1 + (i % 183),
    }));
    const created = await both({ method: 'POST', url: '/batch/hired_employees', payload: batch });
    expect(created.sqlite.statusCode).toBe(201);
    expect(created.postgres.body).toBe(created.sqlite.body);
    const conflict = await both({ method: 'POST', url: '/batch/hired_employees', payload: [...batch.slice(0, 3), batch[0]] });
    expect(conflict.sqlite.statusCode).toBe(409);
    expect(conflict.postgres.body).toBe(conflict.sqlite.body);
    await sameReports();
    await countsExact();

    await both({ method: 'POST', url: '/reset-db' });
    await sameReports();
    await countsExact();
    expect(await postgres.app.store.query('SELECT count(*)::int AS n FROM hire_counts', [])).toEqual([{ n: 0 }]);
  });
});
