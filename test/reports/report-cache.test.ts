import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateCsv } from '../../src/cli/gen/lines.js';
import { ReportCache } from '../../src/reports/report-cache.js';
import { startApp, type TestApp } from '../helpers/app.js';
import { BACKENDS, type Backend } from '../helpers/backends.js';

const dir = mkdtempSync(join(tmpdir(), 'hr-report-cache-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A file database for SQLite (an in-memory one has no data version: nothing is cached there). */
const fileBacked = (backend: Backend): Backend =>
  backend.name === 'sqlite'
    ? { ...backend, create: async () => ({ url: `sqlite:${join(dir, `${Math.random()}.sqlite`)}`, drop: async () => undefined }) }
    : backend;

/** Runs SQL on the test's database through a connection of its own, as another process would. */
async function foreignWrite(t: TestApp, sql: string): Promise<void> {
  if (t.app.store.dialect === 'sqlite') {
    const db = new Database(t.db.url.slice('sqlite:'.length));
    try {
      db.exec(sql);
    } finally {
      db.close();
    }
    return;
  }
  const client = new pg.Client({ connectionString: t.db.url });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

for (const backend of BACKENDS) {
  describe.skipIf(!backend.available)(`report bodies are kept until the data changes [${backend.name}]`, () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await startApp(fileBacked(backend));
    });
    afterAll(() => t.close());

    const csv = (text: string) => ({ payload: text, headers: { 'content-type': 'text/csv' } });
    const get = (url: string) => t.app.inject(url);
    const aboveMean = async () => (await get('/metrics/departments-above-mean?year=2021')).json() as { id: number; hired: number }[];
    /** Hires in 2021 counted from the table itself, not from the report's maintained counts. */
    const recount = async () =>
      Number(
        (
          await t.app.store.query(
            `SELECT COUNT(*) AS n FROM hired_employees h JOIN departments d ON d.id = h.department_id JOIN jobs j ON j.id = h.job_id WHERE ${
              t.app.store.dialect === 'sqlite' ? "h.datetime LIKE '2021%'" : "EXTRACT(YEAR FROM h.datetime AT TIME ZONE 'UTC') = 2021"
            }`,
            [],
          )
        )[0]!.n,
      );
    const reported = async () =>
      ((await get('/metrics/hired-employees?year=2021')).json() as Record<string, number>[]).reduce(
        (n, r) => n + r.Q1! + r.Q2! + r.Q3! + r.Q4!,
        0,
      );

    it('answers every write at once: uploads, batches, another connection, resets', async () => {
      await t.app.inject({ method: 'POST', url: '/upload/departments', ...csv('1,Sales\n2,Legal\n3,Ops\n') });
      await t.app.inject({ method: 'POST', url: '/upload/jobs', ...csv('1,Clerk\n2,Judge\n') });
      expect(await aboveMean()).toEqual([]);
      expect(await reported()).toBe(0);

      await t.app.inject({
        method: 'POST',
        url: '/upload/hired_employees',
        ...csv('1,A,2021-01-01T00:00:00Z,1,1\n2,B,2021-02-01T00:00:00Z,1,2\n'),
      });
      expect(await aboveMean()).toEqual([{ id: 1, department: 'Sales', hired: 2 }]);
      expect(await reported()).toBe(2);

      const batch = await t.app.inject({
        method: 'POST',
        url: '/batch/hired_employees',
        payload: [{ id: 3, name: 'C', datetime: '2021-03-01T00:00:00Z', department_id: 2, job_id: 1 }],
      });
      expect(batch.statusCode).toBe(201);
      expect(await reported()).toBe(3);
      expect(await aboveMean()).toEqual([{ id: 1, department: 'Sales', hired: 2 }]);

      // Another instance or a psql session renaming a department: no request of this process wrote.
      await foreignWrite(t, "UPDATE departments SET department = 'Revenue' WHERE id = 1");
      expect(await aboveMean()).toEqual([{ id: 1, department: 'Revenue', hired: 2 }]);

      const more = [...generateCsv({ table: 'hired_employees', rows: 3000, seed: 9 })]
        .join('')
        .replace(/^(\d+),/gm, (_m, id: string) => `${Number(id) + 10},`);
      await t.app.inject({ method: 'POST', url: '/upload/hired_employees', ...csv(more) });
      expect(await recount()).toBeGreaterThan(3);
      expect(await reported()).toBe(await recount());

      await t.app.inject({ method: 'POST', url: '/reset-db' });
      expect(await reported()).toBe(0);
      expect(await aboveMean()).toEqual([]);
    });

    it('serves one body per report, year and format, byte for byte, while nothing changes', async () => {
      await t.app.inject({ method: 'POST', url: '/upload/departments', ...csv('1,=Sales\n2,Legal\n') });
      await t.app.inject({ method: 'POST', url: '/upload/jobs', ...csv('1,Clerk\n') });
      await t.app.inject({
        method: 'POST',
        url: '/upload/hired_employees',
        ...csv('1,A,2021-01-01T00:00:00Z,1,1\n2,B,2021-05-01T00:00:00Z,1,1\n3,C,2021-05-01T00:00:00Z,2,1\n'),
      });
      const urls = [
        '/metrics/hired-employees?year=2021',
        '/metrics/hired-employees?year=2021&format=csv',
        '/metrics/hired-employees?year=2021&format=csv&spreadsheet_safe=true',
        '/metrics/hired-employees?year=2020',
        '/metrics/departments-above-mean?year=2021',
        '/metrics/department-hires?year=2021&format=csv',
      ];
      const first = await Promise.all(urls.map(get));
      const again = await Promise.all([...urls, ...urls].map(get));
      first.forEach((res, i) => {
        expect(res.statusCode).toBe(200);
        expect(again[i]!.body).toBe(res.body);
        expect(again[i + urls.length]!.body).toBe(res.body);
        expect(again[i]!.headers['content-type']).toBe(res.headers['content-type']);
      });
      expect(first[0]!.headers['content-type']).toMatch(/^application\/json/);
      expect(first[0]!.json()).toEqual([
        { department: '=Sales', job: 'Clerk', Q1: 1, Q2: 1, Q3: 0, Q4: 0 },
        { department: 'Legal', job: 'Clerk', Q1: 0, Q2: 1, Q3: 0, Q4: 0 },
      ]);
      expect(first[1]!.body).toBe('department,job,Q1,Q2,Q3,Q4\r\n=Sales,Clerk,1,1,0,0\r\nLegal,Clerk,0,1,0,0\r\n');
      expect(first[2]!.body).toBe("department,job,Q1,Q2,Q3,Q4\r\n'=Sales,Clerk,1,1,0,0\r\nLegal,Clerk,0,1,0,0\r\n");
      expect(first[3]!.json()).toEqual([]);
      expect(first[4]!.json()).toEqual([{ id: 1, department: '=Sales', hired: 2 }]);
      expect(first[5]!.headers['content-disposition']).toBe('attachment; filename="department-hires-2021.csv"');
    });

    it('computes a body once per data version, shared by concurrent requests', async () => {
      // PostgreSQL's data version is the cluster's snapshot: a write by anyone (another test file
      // on the same server) moves it. Each check is repeated until it ran under one version.
      const underOneVersion = async (check: () => Promise<void>): Promise<void> => {
        for (let attempt = 0; ; attempt++) {
          const before = await t.app.store.dataVersion();
          try {
            await check();
            return;
          } catch (error) {
            if (attempt >= 20 || before === (await t.app.store.dataVersion())) throw error;
          }
        }
      };
      await underOneVersion(async () => {
        const cache = new ReportCache();
        let computed = 0;
        const compute = async () => Buffer.from(`body ${++computed}`);
        const bodies = await Promise.all(Array.from({ length: 8 }, () => cache.get(t.app.store, 'k', compute)));
        expect(new Set(bodies.map(String))).toEqual(new Set(['body 1']));
        expect(String(await cache.get(t.app.store, 'k', compute))).toBe('body 1');
        expect(String(await cache.get(t.app.store, 'other', compute))).toBe('body 2');
      });
      const cache = new ReportCache();
      let computed = 0;
      const compute = async () => Buffer.from(`body ${++computed}`);
      await cache.get(t.app.store, 'k', compute);
      await t.app.inject({
        method: 'POST',
        url: '/batch/departments',
        payload: [{ id: 99, department: 'New' }],
      });
      // A commit of this store changes the version: the body is computed again.
      expect(String(await cache.get(t.app.store, 'k', compute))).toBe('body 2');
      await underOneVersion(async () => {
        const kept = String(await cache.get(t.app.store, 'k', compute));
        expect(String(await cache.get(t.app.store, 'k', compute))).toBe(kept);
      });
      const failing = () => Promise.reject(new Error('boom'));
      await expect(cache.get(t.app.store, 'f', failing)).rejects.toThrow('boom');
      // A failure is not kept: the next call computes.
      const before = computed;
      await cache.get(t.app.store, 'f', compute);
      expect(computed).toBe(before + 1);
    });
  });
}
