import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type TestApp } from '../helpers/app.js';
import { BACKENDS } from '../helpers/backends.js';
import { counts } from '../faults/support/app.js';

/** Text that would change a query if it were ever spliced into SQL, for either dialect. */
const PAYLOADS = [
  "Robert'); DROP TABLE hired_employees;--",
  "' OR '1'='1",
  '" OR ""1""=""1',
  '1; DELETE FROM departments',
  "' UNION SELECT id, department FROM departments --",
  '$1',
  '?',
  ':name',
  '@id',
  '%s',
  "\\'; DROP TABLE jobs; --",
  '$$; DROP TABLE jobs; $$',
  "E'\\x41'",
  '/* comment */ SELECT 1',
  'x\\',
];

const csvField = (text: string): string => `"${text.replaceAll('"', '""')}"`;

for (const backend of BACKENDS) {
  describe.skipIf(!backend.available)(`SQL injection is inert [${backend.name}]`, () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await startApp(backend);
    });
    afterAll(() => t?.close());

    it('through CSV fields and JSON fields: stored verbatim, shown verbatim by the reports', async () => {
      const departments = PAYLOADS.map((p, i) => `${i + 1},${csvField(p)}`).join('\n');
      expect(
        (
          await t.app.inject({ method: 'POST', url: '/upload/departments', payload: departments, headers: { 'content-type': 'text/csv' } })
        ).json(),
      ).toMatchObject({
        inserted: PAYLOADS.length,
        rejected: 0,
      });
      const jobs = PAYLOADS.map((p, i) => ({ id: i + 1, job: p }));
      expect((await t.app.inject({ method: 'POST', url: '/batch/jobs', payload: jobs })).statusCode).toBe(201);
      const hires = PAYLOADS.map((p, i) => `${i + 1},${csvField(p)},2021-0${1 + (i % 9)}-15T12:00:00Z,${i + 1},${i + 1}`).join('\n');
      expect(
        (
          await t.app.inject({ method: 'POST', url: '/upload/hired_employees', payload: hires, headers: { 'content-type': 'text/csv' } })
        ).json(),
      ).toMatchObject({
        inserted: PAYLOADS.length,
      });

      const report = (await t.app.inject('/metrics/hired-employees?year=2021')).json() as { department: string; job: string }[];
      expect(report.map((r) => [r.department, r.job]).sort()).toEqual(PAYLOADS.map((p) => [p, p]).sort());
      expect(await counts(t.app)).toEqual({ departments: PAYLOADS.length, jobs: PAYLOADS.length, hired_employees: PAYLOADS.length });
    });

    it('through rejected rows: logged and given back verbatim', async () => {
      const lines = PAYLOADS.map((p) => `${csvField(p)},not an id`);
      const res = await t.app.inject({
        method: 'POST',
        url: '/upload/jobs',
        payload: lines.join('\n'),
        headers: { 'content-type': 'text/csv' },
      });
      const { upload_id: id, rejected } = res.json();
      expect(rejected).toBe(PAYLOADS.length);
      expect((await t.app.inject(`/uploads/${id}/rejects.csv`)).body).toBe(lines.map((l) => `${l}\r\n`).join(''));
    });

    it('through path and query parameters: 4xx, and the tables are all still there', async () => {
      const attempts = [
        ['POST', `/upload/${encodeURIComponent('departments; DROP TABLE jobs--')}`, 404],
        ['POST', `/batch/${encodeURIComponent("jobs' OR 1=1--")}`, 404],
        ['GET', `/uploads/${encodeURIComponent("' OR '1'='1")}`, 404],
        ['GET', `/uploads/${encodeURIComponent("x'; DROP TABLE uploads;--")}/rejects.csv`, 404],
        ['GET', `/metrics/hired-employees?year=${encodeURIComponent('2021 OR 1=1')}`, 400],
        ['GET', `/metrics/departments-above-mean?year=${encodeURIComponent('2021; DROP TABLE departments')}`, 400],
        ['GET', `/metrics/hired-employees?format=${encodeURIComponent("csv' --")}`, 400],
        ['GET', `/metrics/hired-employees?spreadsheet_safe=${encodeURIComponent("true' OR '1")}`, 400],
        ['POST', `/upload/jobs?batch_size=${encodeURIComponent('1; DROP TABLE jobs')}`, 400],
        ['POST', `/upload/jobs?on_conflict=${encodeURIComponent("update'; DROP TABLE jobs;--")}`, 400],
        ['POST', `/upload/jobs?strict=${encodeURIComponent("1' OR '1'='1")}`, 400],
      ] as const;
      for (const [method, url, status] of attempts) {
        const res = await t.app.inject({
          method,
          url,
          payload: method === 'POST' ? '99,x\n' : undefined,
          headers: method === 'POST' ? { 'content-type': 'text/csv' } : {},
        });
        expect(res.statusCode, url).toBe(status);
      }
      expect(await counts(t.app)).toEqual({ departments: PAYLOADS.length, jobs: PAYLOADS.length, hired_employees: PAYLOADS.length });
      for (const url of ['/metrics/hired-employees?year=2021', '/metrics/departments-above-mean?year=2021', '/metrics/years', '/health']) {
        expect((await t.app.inject(url)).statusCode, url).toBe(200);
      }
    });
  });
}
