import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateCsv } from '../../src/cli/gen/lines.js';
import { startApp, type TestApp } from '../helpers/app.js';

describe('SQLite report answers are kept until the next commit', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hr-report-cache-'));
  let t: TestApp;
  beforeAll(async () => {
    const file = join(dir, 'db.sqlite');
    t = await startApp({ name: 'sqlite', available: true, create: async () => ({ url: `sqlite:${file}`, drop: async () => undefined }) });
  });
  afterAll(async () => {
    await t.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const csv = (text: string) => ({ payload: text, headers: { 'content-type': 'text/csv' } });
  const report = async () => (await t.app.inject('/metrics/departments-above-mean?year=2021')).json() as { id: number; hired: number }[];
  const total = async () =>
    (await t.app.inject('/metrics/hired-employees?year=2021'))
      .json()
      .reduce((n: number, r: Record<string, number>) => n + r.Q1! + r.Q2! + r.Q3! + r.Q4!, 0);

  it('serves repeated queries from memory and answers every write at once: uploads, batches, resets', async () => {
    await t.app.inject({ method: 'POST', url: '/upload/departments', ...csv('1,Sales\n2,Legal\n3,Ops\n') });
    await t.app.inject({ method: 'POST', url: '/upload/jobs', ...csv('1,Clerk\n2,Judge\n') });
    expect(await report()).toEqual([]);
    const sql = "SELECT COUNT(*) AS n FROM hired_employees WHERE datetime LIKE '2021%'";
    const first = await t.app.store.query(sql, []);
    expect(await t.app.store.query(sql, [])).toBe(first);

    await t.app.inject({
      method: 'POST',
      url: '/upload/hired_employees',
      ...csv('1,A,2021-01-01T00:00:00Z,1,1\n2,B,2021-02-01T00:00:00Z,1,2\n'),
    });
    expect(await report()).toEqual([{ id: 1, department: 'Sales', hired: 2 }]);
    expect(await t.app.store.query(sql, [])).toEqual([{ n: 2 }]);

    const batch = await t.app.inject({
      method: 'POST',
      url: '/batch/hired_employees',
      payload: [{ id: 3, name: 'C', datetime: '2021-03-01T00:00:00Z', department_id: 2, job_id: 1 }],
    });
    expect(batch.statusCode).toBe(201);
    expect(await total()).toBe(3);
    expect(await report()).toEqual([{ id: 1, department: 'Sales', hired: 2 }]);

    const more = [...generateCsv({ table: 'hired_employees', rows: 3000, seed: 9 })]
      .join('')
      .replace(/^(\d+),/gm, (_m, id: string) => `${Number(id) + 10},`);
    await t.app.inject({ method: 'POST', url: '/upload/hired_employees', ...csv(more) });
    // The report counts hires of stored departments and jobs only.
    const counted = (await t.app.store.query(`${sql} AND department_id <= 3 AND job_id <= 2`, [])) as { n: number }[];
    expect(counted[0]!.n).toBeGreaterThan(3);
    expect(await total()).toBe(counted[0]!.n);

    await t.app.inject({ method: 'POST', url: '/reset-db' });
    expect(await total()).toBe(0);
    expect(await t.app.store.query(sql, [])).toEqual([{ n: 0 }]);
  });
});
