import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS } from '../helpers/backends.js';
import { startApp, type TestApp } from '../helpers/app.js';
import { expectedReports, historical } from '../helpers/http.js';

for (const backend of BACKENDS) {
  describe.skipIf(!backend.available)(`GET /metrics/* [${backend.name}]`, () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await startApp(backend);
      for (const table of ['departments', 'jobs', 'hired_employees'] as const) {
        await t.app.inject({
          method: 'POST',
          url: `/upload/${table}`,
          payload: historical(table),
          headers: { 'content-type': 'text/csv' },
        });
      }
    });
    afterAll(() => t.close());

    it('answers 400 for a year outside 1900–2100 or not an integer', async () => {
      for (const year of ['1899', '2101', 'abc', '2021.5']) {
        for (const report of ['hired-employees', 'departments-above-mean']) {
          const res = await t.app.inject(`/metrics/${report}?year=${year}`);
          expect(res.statusCode, `${report} ${year}`).toBe(400);
          expect(res.json().error).toBe('VALIDATION_FAILED');
        }
      }
    });

    it('answers an empty list for a year without hires', async () => {
      expect((await t.app.inject('/metrics/hired-employees?year=1999')).json()).toEqual([]);
      expect((await t.app.inject('/metrics/departments-above-mean?year=1999')).json()).toEqual([]);
    });

    it('answers CSV with a header for Accept: text/csv or ?format=csv', async () => {
      const expected = expectedReports().departments_above_mean_2021;
      const byHeader = await t.app.inject({ url: '/metrics/departments-above-mean?year=2021', headers: { accept: 'text/csv' } });
      expect(byHeader.headers['content-type']).toMatch(/^text\/csv/);
      const lines = byHeader.body.trimEnd().split('\r\n');
      expect(lines[0]).toBe('id,department,hired');
      expect(lines.slice(1)).toEqual(expected.map((r) => `${r.id},${r.department},${r.hired}`));
      const byQuery = await t.app.inject('/metrics/hired-employees?year=2021&format=csv');
      const quarterLines = byQuery.body.trimEnd().split('\r\n');
      expect(quarterLines[0]).toBe('department,job,Q1,Q2,Q3,Q4');
      expect(quarterLines).toHaveLength(expectedReports().hired_employees_2021.length + 1);
    });

    it("gives every department's hires, 0 included, whose mean decides departments-above-mean", async () => {
      for (const year of [2021, 2022] as const) {
        const all = (await t.app.inject(`/metrics/department-hires?year=${year}`)).json() as { hired: number }[];
        expect(all).toEqual(expectedReports()[`department_hires_${year}`]);
        const mean = all.reduce((s, d) => s + d.hired, 0) / all.length;
        expect((await t.app.inject(`/metrics/departments-above-mean?year=${year}`)).json()).toEqual(all.filter((d) => d.hired > mean));
      }
      expect((await t.app.inject('/metrics/department-hires?year=1999')).json().every((d: { hired: number }) => d.hired === 0)).toBe(true);
    });

    it('lists the years with hires', async () => {
      expect((await t.app.inject('/metrics/years')).json()).toEqual({ years: [2022, 2021] });
    });
  });
}
