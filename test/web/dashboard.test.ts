/**
 * The dashboard in a real browser: Debian's Chromium driven by playwright-core, against the real
 * server (startApp + listen) on a fresh SQLite database. Never `playwright install`: .ci/run
 * installs `chromium` with apt-get when it is missing.
 */
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { listen, startApp, type TestApp } from '../helpers/app.js';
import { sqliteBackend } from '../helpers/backends.js';
import { expectedReports } from '../helpers/http.js';
import { ROOT, ensureBuilt, historical, launchChromium, poll, reportsReady, tableCounts } from './support.js';

const expected = expectedReports();

// What page.evaluate sees: the tests' tsconfig has no DOM lib, so the page's globals are typed here.
interface ChartView {
  data: { labels: string[]; datasets: { label: string; data: number[]; backgroundColor: string | string[] }[] };
  getDatasetMeta(index: number): { data: unknown[] };
}
interface PageGlobals {
  Chart: { getChart(canvas: unknown): ChartView | undefined };
  document: { getElementById(id: string): unknown };
}

interface ChartSummary {
  labels: string[];
  datasets: { label: string; data: number[]; backgroundColor: string | string[]; drawn: number }[];
}

const readChart = (page: Page, canvasId: string): Promise<ChartSummary | null> =>
  page.evaluate((id) => {
    const g = globalThis as unknown as PageGlobals;
    const chart = g.Chart.getChart(g.document.getElementById(id));
    if (chart === undefined) return null;
    return {
      labels: [...chart.data.labels],
      datasets: chart.data.datasets.map((d, i) => ({
        label: d.label,
        data: [...d.data],
        backgroundColor: d.backgroundColor,
        drawn: chart.getDatasetMeta(i).data.length,
      })),
    };
  }, canvasId);

interface LabelBox {
  text: string;
  left: number;
  right: number;
}
interface ScaleView {
  getLabelItems(): { label: string | string[]; font: { string: string }; options: { translation: number[]; textAlign: string } }[];
}
interface CanvasContext {
  font: string;
  measureText(text: string): { width: number };
}

/**
 * The department labels of a horizontal bar chart as drawn: each label's lines joined, and where
 * its widest line starts and ends (canvas pixels). A label is whole when its text is the name and
 * it lies between the canvas' left edge and the plot.
 */
const readYLabels = (page: Page, canvasId: string): Promise<{ labels: LabelBox[]; plotLeft: number } | null> =>
  page.evaluate((id) => {
    const g = globalThis as unknown as PageGlobals;
    const chart = g.Chart.getChart(g.document.getElementById(id)) as unknown as
      { scales: { y: ScaleView }; ctx: CanvasContext; chartArea: { left: number } } | undefined;
    if (chart === undefined) return null;
    const labels = chart.scales.y.getLabelItems().map((item) => {
      const lines = Array.isArray(item.label) ? item.label : [item.label];
      chart.ctx.font = item.font.string;
      const width = Math.max(...lines.map((line) => chart.ctx.measureText(line).width));
      const x = item.options.translation[0]!;
      const align = item.options.textAlign;
      const left = align === 'right' ? x - width : align === 'center' ? x - width / 2 : x;
      return { text: lines.join(' '), left, right: left + width };
    });
    return { labels, plotLeft: chart.chartArea.left };
  }, canvasId);

/** Whether the quarter table scrolls sideways, and what the page says about it. */
const readSideways = (page: Page) =>
  page.evaluate(() => {
    const g = globalThis as unknown as {
      document: { getElementById(id: string): { scrollWidth: number; clientWidth: number; parentElement: { dataset: { more?: string } } } };
      getComputedStyle(element: unknown, pseudo: string): { opacity: string };
    };
    const box = g.document.getElementById('quarters-scroll');
    return {
      overflows: box.scrollWidth > box.clientWidth + 1,
      more: box.parentElement.dataset.more ?? '',
      shadow: g.getComputedStyle(box.parentElement, '::after').opacity,
    };
  });

/** The counts of an upload's report card, by label: { Received: 12, Inserted: 12, … }. */
async function cardCounts(page: Page, fileName: string): Promise<Record<string, number>> {
  const card = page.locator(`article.report[data-file="${fileName}"]`);
  const labels = await card.locator('dt').allTextContents();
  const values = await card.locator('dd').allTextContents();
  return Object.fromEntries(labels.map((label, i) => [label, Number(values[i]!.replace(/,/g, ''))]));
}

describe('dashboard (Chromium)', () => {
  let browser: Browser;
  let t: TestApp;
  let base: string;
  let page: Page;
  let pageErrors: string[];

  beforeAll(async () => {
    ensureBuilt();
    [browser, t] = await Promise.all([launchChromium(), startApp(sqliteBackend, { UPLOAD_MAX_BYTES: 50 * 1024 ** 2 })]);
    base = `${await listen(t.app)}/`;
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  });

  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  beforeEach(() => {
    pageErrors = [];
    page.on('pageerror', (error) => pageErrors.push(error.message));
    // Console errors too: a Content-Security-Policy violation (helmet) only shows there.
    page.on('console', (message) => {
      if (message.type() === 'error') pageErrors.push(message.text());
    });
  });

  afterEach(() => {
    page.removeAllListeners('pageerror');
    page.removeAllListeners('console');
    expect(pageErrors).toEqual([]);
  });

  it('serves the page and its bundle from the server itself, and says when there is no data yet', async () => {
    const requests: string[] = [];
    page.on('request', (request) => requests.push(request.url()));
    await page.goto(base);
    await reportsReady(page);
    await poll(() => page.locator('#reports-status').textContent()).toContain('No hires yet');
    await poll(() => page.locator('#tables-status').textContent()).toContain('The tables are empty');
    expect(requests.filter((url) => !url.startsWith(base))).toEqual([]);
    page.removeAllListeners('request');
    // It runs under the service's Content-Security-Policy (no inline script or style, no CDN).
    expect((await t.app.inject('/')).headers['content-security-policy']).toContain("script-src 'self'");
    // The dashboard's routes stay out of the API description.
    const openapi = (await t.app.inject('/openapi.json')).json() as { paths: Record<string, unknown> };
    expect(Object.keys(openapi.paths).filter((p) => p === '/' || p.startsWith('/web'))).toEqual([]);
  });

  it('uploads the three historical files picked together: tables from their names, progress to 100%, the counts', async () => {
    await page.locator('#file-input').setInputFiles([historical('hired_employees'), historical('jobs'), historical('departments')]);
    const picked = await page
      .locator('#file-list select')
      .evaluateAll((selects) => selects.map((s) => [s.getAttribute('data-file'), (s as unknown as { value: string }).value]));
    expect(Object.fromEntries(picked)).toEqual({
      'hired_employees.csv': 'hired_employees',
      'jobs.csv': 'jobs',
      'departments.csv': 'departments',
    });

    await page.getByRole('button', { name: 'Upload' }).click();
    await poll(() => page.locator('#upload-status').textContent()).toContain('Done: 3 files loaded');

    const progress = await page
      .locator('#file-list progress')
      .evaluateAll((bars) => bars.map((b) => (b as unknown as { value: number; max: number }).value));
    expect(progress).toEqual([100, 100, 100]);
    expect(await page.locator('#file-list .progress-text').allTextContents()).toEqual(Array(3).fill('100% · loaded'));

    const { counts } = expected;
    expect(await cardCounts(page, 'departments.csv')).toEqual({
      Received: counts.departments,
      Inserted: counts.departments,
      Incomplete: 0,
      Rejected: 0,
    });
    expect(await cardCounts(page, 'jobs.csv')).toEqual({ Received: counts.jobs, Inserted: counts.jobs, Incomplete: 0, Rejected: 0 });
    expect(await cardCounts(page, 'hired_employees.csv')).toEqual({
      Received: counts.hired_employees,
      Inserted: counts.hired_employees,
      Incomplete: counts.incomplete,
      Rejected: 0,
    });
    await poll(() => tableCounts(page)).toMatchObject({
      departments: counts.departments,
      jobs: counts.jobs,
      hired_employees: counts.hired_employees,
    });
  });

  it("opens on the reports' default year (2021, the API's default) with Support first, not on the latest year", async () => {
    const openapi = (await t.app.inject('/openapi.json')).json() as {
      paths: Record<string, { get: { parameters: { name: string; schema: { default?: number } }[] } }>;
    };
    const defaultYear = openapi.paths['/metrics/departments-above-mean']!.get.parameters.find((p) => p.name === 'year')!.schema.default;
    expect(defaultYear).toBe(2021);
    const years = ((await t.app.inject('/metrics/years')).json() as { years: number[] }).years;
    expect(Math.max(...years)).toBeGreaterThan(2021);

    await page.goto(base);
    await reportsReady(page);
    expect(await page.locator('#year').inputValue()).toBe('2021');
    const first = await page.locator('#above-mean-table tbody tr').first().locator('th, td').allTextContents();
    const top = expected.departments_above_mean_2021[0]!;
    expect(top).toMatchObject({ department: 'Support', hired: 221 });
    expect(first).toEqual([String(top.id), top.department, String(top.hired)]);
  });

  it('draws the quarter chart (one stacked bar per department) and the above-mean chart; the table matches the API', async () => {
    await reportsReady(page);
    const years = (await t.app.inject('/metrics/years')).json() as { years: number[] };
    expect(await page.locator('#year option').allTextContents()).toEqual(years.years.map(String));
    await page.locator('#year').selectOption('2021');
    await reportsReady(page);

    const report = (await t.app.inject('/metrics/hired-employees?year=2021')).json() as {
      department: string;
      Q1: number;
      Q2: number;
      Q3: number;
      Q4: number;
    }[];
    const departments = [...new Set(report.map((r) => r.department))].sort();
    const quarters = await readChart(page, 'quarters-chart');
    expect(quarters?.labels).toEqual(departments);
    expect(quarters?.datasets.map((d) => d.label)).toEqual(['Q1', 'Q2', 'Q3', 'Q4']);
    for (const [q, dataset] of quarters!.datasets.entries()) {
      expect(dataset.drawn).toBe(departments.length);
      const key = `Q${q + 1}` as 'Q1' | 'Q2' | 'Q3' | 'Q4';
      const sums = departments.map((d) => report.filter((r) => r.department === d).reduce((s, r) => s + r[key], 0));
      expect(dataset.data).toEqual(sums);
    }
    expect(await page.locator('#quarters-table tbody tr').count()).toBe(expected.hired_employees_2021.length);

    const aboveMean = (await t.app.inject('/metrics/departments-above-mean?year=2021')).json() as {
      id: number;
      department: string;
      hired: number;
    }[];
    expect(aboveMean).toEqual(expected.departments_above_mean_2021);
    const rows = await page
      .locator('#above-mean-table tbody tr')
      .evaluateAll((trs) =>
        trs.map((tr) => Array.from((tr as unknown as { cells: { textContent: string }[] }).cells, (c) => c.textContent)),
      );
    expect(rows).toEqual(aboveMean.map((d) => [String(d.id), d.department, String(d.hired)]));

    const bars = await readChart(page, 'above-mean-chart');
    expect(bars?.datasets).toHaveLength(1);
    expect(bars!.labels).toHaveLength(expected.counts.departments);
    expect(bars!.datasets[0]!.drawn).toBe(expected.counts.departments);
    // Every department's bar is its exact count, as computed independently.
    expect(bars!.labels).toEqual(expected.department_hires_2021.map((d) => d.department));
    expect(bars!.datasets[0]!.data).toEqual(expected.department_hires_2021.map((d) => d.hired));
    const colors = bars!.datasets[0]!.backgroundColor as string[];
    const highlighted = bars!.labels.filter((_, i) => colors[i] === colors[bars!.labels.indexOf(aboveMean[0]!.department)]);
    expect(highlighted.sort()).toEqual(aboveMean.map((d) => d.department).sort());

    expect(await page.locator('#quarters-csv').getAttribute('href')).toBe('metrics/hired-employees?year=2021&format=csv');
    const [download] = await Promise.all([page.waitForEvent('download'), page.locator('#above-mean-csv').click()]);
    const csv = readFileSync((await download.path())!, 'utf8');
    expect(csv.trim().split(/\r?\n/)).toEqual(['id,department,hired', ...aboveMean.map((d) => `${d.id},${d.department},${d.hired}`)]);

    await page.screenshot({ path: join(ROOT, 'test-results/dashboard.png'), fullPage: true });
    if (process.env.UPDATE_DOCS_SCREENSHOT === '1') {
      mkdirSync(join(ROOT, 'docs'), { recursive: true });
      copyFileSync(join(ROOT, 'test-results/dashboard.png'), join(ROOT, 'docs/dashboard.png'));
    }
  });

  it('shows the sideways hint only when the quarter table is wider than its box', async () => {
    const sideways = await readSideways(page);
    expect(await page.locator('#quarters-scroll-hint').isVisible()).toBe(sideways.overflows);
    expect(sideways.more.includes('right')).toBe(sideways.overflows);
  });

  it('filters the quarter table by department and job, and sorts it by any column', async () => {
    await page.locator('#filter-department').selectOption('Engineering');
    const engineering = expected.hired_employees_2021.filter((r) => r.department === 'Engineering');
    await poll(() => page.locator('#quarters-table tbody tr').count()).toBe(engineering.length);
    expect((await readChart(page, 'quarters-chart'))?.labels).toEqual(['Engineering']);

    await page.locator('#filter-job').fill('engineer');
    const engineers = engineering.filter((r) => String(r.job).toLowerCase().includes('engineer'));
    await poll(() => page.locator('#quarters-table tbody tr').count()).toBe(engineers.length);
    expect(await page.locator('#quarters-count').textContent()).toContain(
      `Showing ${engineers.length} of ${expected.hired_employees_2021.length}`,
    );

    await page.locator('#filter-job').fill('');
    await page.locator('#filter-department').selectOption('');
    // Keyboard: the Total header is a button.
    await page.locator('#quarters-table th button[data-key="total"]').focus();
    await page.keyboard.press('Enter');
    expect(await page.locator('#quarters-table th[aria-sort]').textContent()).toContain('Total');
    expect(await page.locator('#quarters-table th[aria-sort]').getAttribute('aria-sort')).toBe('descending');
    const totals = (await page.locator('#quarters-table tbody tr td:last-child').allTextContents()).map(Number);
    expect(totals).toEqual([...totals].sort((a, b) => b - a));
    expect(totals).toHaveLength(expected.hired_employees_2021.length);
  });

  it('shows the rejected lines of a file with bad rows with their reasons, and downloads them as CSV', async () => {
    const before = await tableCounts(page);
    const bad = '1,Duplicate id\nseven,Not an id\n9001,A new job\n9002\n';
    await page.locator('#file-input').setInputFiles({ name: 'jobs-fixes.csv', mimeType: 'text/csv', buffer: Buffer.from(bad) });
    expect(await page.locator('#file-list select').inputValue()).toBe('jobs');
    await page.getByRole('button', { name: 'Upload' }).click();
    await poll(() => page.locator('#upload-status').textContent()).toContain('Done: 1 file loaded');

    expect(await cardCounts(page, 'jobs-fixes.csv')).toEqual({ Received: 4, Inserted: 1, Incomplete: 0, Rejected: 3 });
    const card = page.locator('article.report[data-file="jobs-fixes.csv"]');
    const lines = await card
      .locator('table.rejects tbody tr')
      .evaluateAll((trs) =>
        trs.map((tr) => Array.from((tr as unknown as { cells: { textContent: string }[] }).cells, (c) => c.textContent)),
      );
    expect(lines.map(([line]) => line)).toEqual(['1', '2', '4']);
    for (const [, reason] of lines) expect(reason!.length).toBeGreaterThan(5);

    const [download] = await Promise.all([page.waitForEvent('download'), card.locator('a.rejects-link').click()]);
    expect(readFileSync((await download.path())!, 'utf8')).toBe('1,Duplicate id\r\nseven,Not an id\r\n9002\r\n');
    await poll(() => tableCounts(page)).toMatchObject({ jobs: before.jobs! + 1 });
  });

  it('shows the bytes sent while a large file goes out (a dry run, on a throttled link)', async () => {
    let csv = '';
    for (let id = 100_001; csv.length < 3 * 1024 ** 2; id++)
      csv += `${id},Person ${id},2021-05-11T10:00:00Z,${1 + (id % 12)},${1 + (id % 180)}\n`;
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('Network.enable');
    await cdp.send('Network.emulateNetworkConditions', {
      offline: false,
      latency: 0,
      downloadThroughput: -1,
      uploadThroughput: 3 * 1024 ** 2,
    });
    try {
      await page.locator('#opt-dry-run').check();
      await page.locator('#file-input').setInputFiles({ name: 'employees-more.csv', mimeType: 'text/csv', buffer: Buffer.from(csv) });
      // Every value the bar takes, recorded in the page: polling from here could miss them.
      await page.evaluate(`(() => {
        window.progressSeen = [];
        const list = document.getElementById('file-list');
        new MutationObserver(() => window.progressSeen.push([Math.round(performance.now()), list.querySelector('progress').value]))
          .observe(list, { subtree: true, attributes: true, attributeFilter: ['value'] });
      })()`);
      await page.getByRole('button', { name: 'Upload' }).click();
      await poll(() => page.locator('#upload-status').getAttribute('data-kind')).toBe('success');
      const seen = (await page.evaluate('window.progressSeen')) as [number, number][];
      const values = seen.map(([, value]) => value);
      expect(
        values.some((v) => v > 0 && v < 100),
        `progress seen: ${JSON.stringify(seen)}`,
      ).toBe(true);
      expect(values.at(-1)).toBe(100);
      const received = csv.split('\n').length - 1;
      expect(await cardCounts(page, 'employees-more.csv')).toEqual({
        Received: received,
        'Would insert': received,
        Incomplete: 0,
        Rejected: 0,
      });
      expect((await t.app.inject('/tables')).json().tables.find((x: { name: string }) => x.name === 'hired_employees').rows).toBe(
        expected.counts.hired_employees,
      );
    } finally {
      await page.locator('#opt-dry-run').uncheck();
      await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
      await cdp.detach();
    }
  });

  it('responds to a phone-sized screen without sideways scrolling', async () => {
    const phone = await browser.newPage({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
    try {
      await phone.goto(base);
      await reportsReady(phone);
      const overflow = await phone.evaluate(() => {
        const g = globalThis as unknown as { document: { documentElement: { scrollWidth: number; clientWidth: number } } };
        return g.document.documentElement.scrollWidth - g.document.documentElement.clientWidth;
      });
      expect(overflow).toBeLessThanOrEqual(0);
      expect((await readChart(phone, 'quarters-chart'))?.labels).toHaveLength(expected.counts.departments);

      // Every department's name drawn whole ("Business Development", not "Business Deve…"),
      // inside the canvas and clear of the bars, on both charts.
      const names = expected.department_hires_2021.map((d) => String(d.department));
      for (const [id, wanted] of [
        ['quarters-chart', [...new Set(expected.hired_employees_2021.map((r) => String(r.department)))].sort()],
        ['above-mean-chart', names],
      ] as const) {
        const drawn = await readYLabels(phone, id);
        expect(drawn?.labels.map((l) => l.text)).toEqual(wanted);
        for (const label of drawn!.labels) {
          expect(label.left, `${id}: ${label.text}`).toBeGreaterThanOrEqual(0);
          expect(label.right, `${id}: ${label.text}`).toBeLessThanOrEqual(drawn!.plotLeft);
        }
      }
      expect(names.some((n) => n.length > 14)).toBe(true);

      // The quarter table is wider than a phone: the hint and the right-hand shadow say so.
      await poll(() => readSideways(phone)).toEqual({ overflows: true, more: 'right', shadow: '1' });
      expect(await phone.locator('#quarters-scroll-hint').isVisible()).toBe(true);
      // Scrolled to its end, there is nothing more to the right: the shadow moves to the left edge.
      await phone.locator('#quarters-scroll').evaluate((box) => {
        (box as unknown as { scrollLeft: number; scrollWidth: number }).scrollLeft = (
          box as unknown as { scrollWidth: number }
        ).scrollWidth;
      });
      await poll(() => readSideways(phone)).toMatchObject({ more: 'left', shadow: '0' });
      await phone.screenshot({ path: join(ROOT, 'test-results/dashboard-phone.png'), fullPage: true });
    } finally {
      await phone.close();
    }
  });

  describe('with API_KEY set on the server', () => {
    let keyed: TestApp;
    let keyedBase: string;
    beforeAll(async () => {
      keyed = await startApp(sqliteBackend, { API_KEY: 'right-key' });
      keyedBase = `${await listen(keyed.app)}/`;
    });
    afterAll(() => keyed?.close());

    it('shows the 401 message for a wrong key, keeps the key out of the URL, and loads with the right one', async () => {
      const context = await browser.newContext();
      const tab = await context.newPage();
      try {
        await tab.goto(keyedBase);
        await tab.getByLabel('API key').fill('wrong-key');
        await tab.locator('#file-input').setInputFiles(historical('departments'));
        await tab.getByRole('button', { name: 'Upload' }).click();
        const status = tab.locator('#upload-status');
        await poll(() => status.textContent()).toContain('The API key is not valid');
        expect(await status.textContent()).toContain('401');
        expect(await status.getAttribute('role')).toBe('alert');
        expect(tab.url()).not.toContain('wrong-key');
        expect(
          await tab.evaluate(() =>
            (globalThis as unknown as { sessionStorage: { getItem(k: string): string } }).sessionStorage.getItem('hr-dashboard.api-key'),
          ),
        ).toBe('wrong-key');
        expect((await keyed.app.inject('/tables')).json().tables[0].rows).toBe(0);

        // Kept for the tab: a reload still has it.
        await tab.reload();
        expect(await tab.getByLabel('API key').inputValue()).toBe('wrong-key');
        await tab.getByLabel('API key').fill('right-key');
        await tab.locator('#file-input').setInputFiles(historical('departments'));
        await tab.getByRole('button', { name: 'Upload' }).click();
        await poll(() => status.textContent()).toContain('Done: 1 file loaded');
        expect((await keyed.app.inject('/tables')).json().tables[0]).toEqual({ name: 'departments', rows: expected.counts.departments });
      } finally {
        await context.close();
      }
    });

    it('downloads the rejected lines with the key (rejects.csv is not open when the server has one)', async () => {
      const context = await browser.newContext({ acceptDownloads: true });
      const tab = await context.newPage();
      try {
        await tab.goto(keyedBase);
        await tab.getByLabel('API key').fill('right-key');
        const bad = '7001,Fine job\nnot-an-id,Broken\n';
        await tab.locator('#file-input').setInputFiles({ name: 'jobs-bad.csv', mimeType: 'text/csv', buffer: Buffer.from(bad) });
        await tab.getByRole('button', { name: 'Upload' }).click();
        await poll(() => tab.locator('#upload-status').textContent()).toContain('Done: 1 file loaded');
        const card = tab.locator('article.report[data-file="jobs-bad.csv"]');
        const href = await card.locator('a.rejects-link').getAttribute('href');
        // Without the key the same URL is refused.
        expect((await keyed.app.inject(`/${href!}`)).statusCode).toBe(401);
        const [download] = await Promise.all([tab.waitForEvent('download'), card.locator('a.rejects-link').click()]);
        expect(readFileSync((await download.path())!, 'utf8')).toBe('not-an-id,Broken\r\n');
      } finally {
        await context.close();
      }
    });
  });
});
