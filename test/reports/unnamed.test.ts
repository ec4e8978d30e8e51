import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type TestApp } from '../helpers/app.js';
import { BACKENDS } from '../helpers/backends.js';

// A department and a job uploaded with an empty name (an "incomplete" row, stored as NULL), each
// with hires in 2021 next to named ones: the reports say null, not "", and CSV leaves the field empty.
const DEPARTMENTS = '1,Sales\n2,\n3,Legal\n';
const JOBS = '1,Clerk\n2,\n';
const HIRES = [
  '1,Ann,2021-01-05T10:00:00Z,2,2',
  '2,Bob,2021-04-05T10:00:00Z,2,2',
  '3,Cy,2021-07-05T10:00:00Z,2,1',
  '4,Di,2021-10-05T10:00:00Z,1,1',
  '',
].join('\n');

const upload = async (t: TestApp, table: string, csv: string) => {
  const res = await t.app.inject({ method: 'POST', url: `/upload/${table}`, payload: csv, headers: { 'content-type': 'text/csv' } });
  expect(res.statusCode, res.body).toBe(200);
  return res.json() as { inserted: number; incomplete: number };
};

for (const backend of BACKENDS) {
  describe.skipIf(!backend.available)(`reports of a department and a job without a name [${backend.name}]`, () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await startApp(backend);
      expect(await upload(t, 'departments', DEPARTMENTS)).toMatchObject({ inserted: 3, incomplete: 1 });
      expect(await upload(t, 'jobs', JOBS)).toMatchObject({ inserted: 2, incomplete: 1 });
      expect(await upload(t, 'hired_employees', HIRES)).toMatchObject({ inserted: 4, incomplete: 0 });
    });
    afterAll(() => t.close());

    it('hired-employees answers null for the missing names, first in the order (as SQL sorts NULL)', async () => {
      const res = await t.app.inject('/metrics/hired-employees?year=2021');
      expect(res.statusCode).toBe(200);
      expect(res.json()).toEqual([
        { department: null, job: null, Q1: 1, Q2: 1, Q3: 0, Q4: 0 },
        { department: null, job: 'Clerk', Q1: 0, Q2: 0, Q3: 1, Q4: 0 },
        { department: 'Sales', job: 'Clerk', Q1: 0, Q2: 0, Q3: 0, Q4: 1 },
      ]);
    });

    it('department-hires and departments-above-mean answer null for the department without a name', async () => {
      expect((await t.app.inject('/metrics/department-hires?year=2021')).json()).toEqual([
        { id: 2, department: null, hired: 3 },
        { id: 1, department: 'Sales', hired: 1 },
        { id: 3, department: 'Legal', hired: 0 },
      ]);
      expect((await t.app.inject('/metrics/departments-above-mean?year=2021')).json()).toEqual([{ id: 2, department: null, hired: 3 }]);
    });

    it('writes an empty CSV field for a missing name', async () => {
      const quarters = await t.app.inject('/metrics/hired-employees?year=2021&format=csv');
      expect(quarters.body).toBe('department,job,Q1,Q2,Q3,Q4\r\n,,1,1,0,0\r\n,Clerk,0,0,1,0\r\nSales,Clerk,0,0,0,1\r\n');
      const above = await t.app.inject('/metrics/departments-above-mean?year=2021&format=csv');
      expect(above.body).toBe('id,department,hired\r\n2,,3\r\n');
    });
  });
}
