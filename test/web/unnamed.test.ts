/**
 * The dashboard (Chromium, see support.ts) on a department and a job stored without a name: the
 * API answers null, the page shows "(no name)" in the tables, the filter and the charts.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listen, startApp, type TestApp } from '../helpers/app.js';
import { sqliteBackend } from '../helpers/backends.js';
import { ensureBuilt, launchChromium, reportsReady } from './support.js';

const FILES: Record<string, string> = {
  departments: '1,Sales\n2,\n',
  jobs: '1,Clerk\n2,\n',
  hired_employees:
    '1,Ann,2021-01-05T10:00:00Z,2,2\n2,Bob,2021-04-05T10:00:00Z,2,2\n3,Cy,2021-07-05T10:00:00Z,2,1\n4,Di,2021-10-05T10:00:00Z,1,1\n',
};

interface PageGlobals {
  Chart: { getChart(canvas: unknown): { data: { labels: string[] } } | undefined };
  document: { getElementById(id: string): unknown };
}
const chartLabels = (page: Page, id: string) =>
  page.evaluate((canvasId) => {
    const g = globalThis as unknown as PageGlobals;
    return g.Chart.getChart(g.document.getElementById(canvasId))?.data.labels.map(String) ?? null;
  }, id);

describe('dashboard on names stored as null (Chromium)', () => {
  let browser: Browser;
  let t: TestApp;
  let page: Page;
  const errors: string[] = [];

  beforeAll(async () => {
    ensureBuilt();
    [browser, t] = await Promise.all([launchChromium(), startApp(sqliteBackend)]);
    for (const [table, csv] of Object.entries(FILES)) {
      const res = await t.app.inject({ method: 'POST', url: `/upload/${table}`, payload: csv, headers: { 'content-type': 'text/csv' } });
      expect(res.statusCode, res.body).toBe(200);
    }
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(`${await listen(t.app)}/`);
    await reportsReady(page);
  });

  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  it('shows "(no name)" for them in the quarter table, its department filter and its chart', async () => {
    expect((await t.app.inject('/metrics/hired-employees?year=2021')).json()[0]).toMatchObject({ department: null, job: null });
    const rows = await page
      .locator('#quarters-table tbody tr')
      .evaluateAll((trs) => trs.map((tr) => Array.from(tr.children, (cell) => cell.textContent)));
    expect(rows).toEqual([
      ['(no name)', '(no name)', '1', '1', '0', '0', '2'],
      ['(no name)', 'Clerk', '0', '0', '1', '0', '1'],
      ['Sales', 'Clerk', '0', '0', '0', '1', '1'],
    ]);
    expect(await page.locator('#filter-department option').allTextContents()).toEqual(['All departments', '(no name)', 'Sales']);
    await page.locator('#filter-department').selectOption('(no name)');
    expect(await page.locator('#quarters-table tbody tr').count()).toBe(2);
    expect(await chartLabels(page, 'quarters-chart')).toEqual(['(no name)']);
    await page.locator('#filter-department').selectOption('');
    expect(await chartLabels(page, 'quarters-chart')).toEqual(['(no name)', 'Sales']);
  });

  it('shows "(no name)" for the department in the above-mean table and chart', async () => {
    const rows = await page
      .locator('#above-mean-table tbody tr')
      .evaluateAll((trs) => trs.map((tr) => Array.from(tr.children, (cell) => cell.textContent)));
    expect(rows).toEqual([['2', '(no name)', '3']]);
    expect(await chartLabels(page, 'above-mean-chart')).toEqual(['(no name)', 'Sales']);
    expect(errors).toEqual([]);
  });
});
