import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPORTS, YEAR_REPORTS, reportColumns } from '../../src/reports/registry.js';
import { startApp, type TestApp } from '../helpers/app.js';
import { sqliteBackend } from '../helpers/backends.js';

interface OpenApi {
  paths: Record<
    string,
    { get?: { summary: string; responses: Record<string, { content: Record<string, { schema: { items: { properties: object } } }> }> } }
  >;
}

describe('the report registry drives GET /metrics/*', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp(sqliteBackend);
  });
  afterAll(() => t.close());

  it('serves one route per report of a year, documented with its summary and row, and no other', async () => {
    const openapi = (await t.app.inject('/openapi.json')).json() as OpenApi;
    const routes = Object.keys(openapi.paths).filter((p) => p.startsWith('/metrics/'));
    expect(routes.sort()).toEqual([...YEAR_REPORTS.map((r) => `/metrics/${r.name}`), '/metrics/years'].sort());
    for (const report of YEAR_REPORTS) {
      const get = openapi.paths[`/metrics/${report.name}`]!.get!;
      expect(get.summary).toBe(report.summary);
      expect(Object.keys(get.responses['200']!.content['application/json']!.schema.items.properties)).toEqual(reportColumns(report));
    }
  });

  it("writes each report's row properties, in order, as its CSV header", async () => {
    expect(reportColumns(REPORTS.hiredEmployees)).toEqual(['department', 'job', 'Q1', 'Q2', 'Q3', 'Q4']);
    for (const report of YEAR_REPORTS) {
      const res = await t.app.inject(`/metrics/${report.name}?year=2021&format=csv`);
      expect(res.statusCode).toBe(200);
      expect(res.body.split('\r\n')[0]).toBe(reportColumns(report).join(','));
    }
  });
});
