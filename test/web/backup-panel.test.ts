/**
 * The dashboard's "Backups" section in Chromium, against the real server on a fresh SQLite
 * database with API_KEY set and BACKUP_DIR in a temporary folder: back up every table, restore
 * them after a reset (replace, confirmed), download a table and restore the file (merge), and a
 * wrong key.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { listen, startApp, type TestApp } from '../helpers/app.js';
import { sqliteBackend } from '../helpers/backends.js';
import { expectedReports, historical } from '../helpers/http.js';
import { ROOT, ensureBuilt, launchChromium, poll, reportsReady, tableCounts } from './support.js';

const KEY = 'backup-panel-key';
const WRONG = 'not-the-key';
const TABLES = ['departments', 'jobs', 'hired_employees'] as const;
const { counts } = expectedReports();
const ROWS = { departments: counts.departments, jobs: counts.jobs, hired_employees: counts.hired_employees };
const auth = { authorization: `Bearer ${KEY}` };

/** A table's rows as text, cell by cell. */
const cells = (page: Page, selector: string): Promise<string[][]> =>
  page
    .locator(selector)
    .evaluateAll((trs) =>
      trs.map((tr) => Array.from((tr as unknown as { cells: { textContent: string }[] }).cells, (c) => c.textContent.trim())),
    );

const number = (text: string): number => Number(text.replace(/,/g, ''));

describe('backups panel (Chromium)', () => {
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let t: TestApp;
  let dir: string;
  let pageErrors: string[];
  /** Chromium logs every 4xx answer as a console error: the tests that expect them say which. */
  let expectedErrors: RegExp | undefined;
  const requests: { url: string; authorization: string | undefined }[] = [];

  const aboveMean = async () => (await t.app.inject('/metrics/departments-above-mean?year=2021')).json() as unknown;

  beforeAll(async () => {
    ensureBuilt();
    dir = mkdtempSync(join(tmpdir(), 'backup-panel-'));
    [browser, t] = await Promise.all([launchChromium(), startApp(sqliteBackend, { BACKUP_DIR: dir, API_KEY: KEY })]);
    const base = `${await listen(t.app)}/`;
    for (const table of TABLES) {
      const res = await t.app.inject({
        method: 'POST',
        url: `/upload/${table}`,
        payload: historical(table),
        headers: { ...auth, 'content-type': 'text/csv' },
      });
      expect(res.statusCode, res.body).toBe(200);
    }
    context = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
    // The key typed earlier in this tab (upload.ts keeps it in sessionStorage): the page opens with it.
    await context.addInitScript(`sessionStorage.setItem('hr-dashboard.api-key', ${JSON.stringify(KEY)})`);
    page = await context.newPage();
    page.on('request', (request) => requests.push({ url: request.url(), authorization: request.headers()['authorization'] }));
    await page.goto(base);
    await reportsReady(page);
  });

  afterAll(async () => {
    await browser?.close();
    await t?.close();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  beforeEach(() => {
    pageErrors = [];
    expectedErrors = undefined;
    page.on('pageerror', (error) => pageErrors.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'error') pageErrors.push(message.text());
    });
  });

  afterEach(() => {
    page.removeAllListeners('pageerror');
    page.removeAllListeners('console');
    expect(pageErrors.filter((e) => expectedErrors === undefined || !expectedErrors.test(e))).toEqual([]);
  });

  it('backs up every table from the page: the files written, then the list, with their row counts', async () => {
    await poll(() => page.locator('#backups-list-status').textContent()).toContain('No backups yet');
    await page.getByRole('button', { name: 'Back up all tables' }).click();
    const status = page.locator('#backup-status');
    await poll(() => status.getAttribute('data-kind')).toBe('success');
    expect(await status.textContent()).toContain('Backed up 3 tables');

    const written = await cells(page, '#backup-written tbody tr');
    expect(Object.fromEntries(written.map(([table, rows]) => [table, number(rows!)]))).toEqual(ROWS);
    expect(readdirSync(dir).sort()).toEqual(written.map((row) => row[3]).sort());

    const listed = page.locator('#backups-table tbody tr');
    await poll(() => listed.count()).toBe(3);
    const rows = await listed.evaluateAll((trs) =>
      trs.map((tr) => [tr.getAttribute('data-table'), tr.querySelector('td.rows')?.textContent ?? '']),
    );
    expect(Object.fromEntries(rows.map(([table, text]) => [table, number(text!)]))).toEqual(ROWS);
    expect(await listed.locator('.badge', { hasText: 'new' }).count()).toBe(3);
    expect(await page.locator('#backups-list-status').isHidden()).toBe(true);
  });

  it('restores every table from its listed backup after a reset (replace, confirmed first): counts and reports come back', async () => {
    const before = await aboveMean();
    expect(before).not.toEqual([]);
    const reset = await t.app.inject({ method: 'POST', url: '/reset-db', headers: auth });
    expect(reset.statusCode).toBe(200);
    await page.getByRole('button', { name: 'Refresh', exact: true }).click();
    await poll(() => tableCounts(page)).toEqual({ departments: 0, jobs: 0, hired_employees: 0 });

    const dialog = page.locator('#restore-confirm');
    const restoreStatus = page.locator('#restore-status');

    // Keyboard: Enter on Restore asks first, Cancel has the focus, Escape cancels and nothing changes.
    const restoreDepartments = page.locator('#backups-table tr[data-table="departments"] button');
    await restoreDepartments.focus();
    await page.keyboard.press('Enter');
    await dialog.waitFor({ state: 'visible' });
    expect(await dialog.locator('h2').textContent()).toBe('Replace departments?');
    await poll(() => dialog.textContent()).toContain('(now 0 rows)');
    expect(await dialog.textContent()).toContain(`the ${ROWS.departments} rows of the backup departments-`);
    expect(
      await page.evaluate(
        () => (globalThis as unknown as { document: { activeElement: { textContent: string } } }).document.activeElement.textContent,
      ),
    ).toBe('Cancel');
    await page.screenshot({ path: join(ROOT, 'test-results/backup-panel-confirm.png') });
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });
    await poll(() => restoreStatus.textContent()).toBe('Nothing was restored: departments is unchanged.');
    expect(
      await restoreDepartments.evaluate(
        (b) => b === (globalThis as unknown as { document: { activeElement: unknown } }).document.activeElement,
      ),
    ).toBe(true);
    expect((await t.app.inject('/tables')).json().tables[0]).toEqual({ name: 'departments', rows: 0 });

    for (const table of TABLES) {
      const row = page.locator(`#backups-table tr[data-table="${table}"]`);
      expect(await row.getByLabel(/^Mode to restore/).inputValue()).toBe('replace');
      await row.getByRole('button', { name: `Restore ${table} from ${table}-` }).click();
      await page.getByRole('button', { name: `Replace ${table}` }).click();
      await poll(() => restoreStatus.textContent()).toBe(
        `Restored ${table}: it now holds the backup's ${ROWS[table].toLocaleString('en-US')} rows (replace).`,
      );
      expect(await restoreStatus.getAttribute('data-kind')).toBe('success');
    }
    // The page refreshed its counts and reports the way an upload does.
    expect(await tableCounts(page)).toEqual(ROWS);
    expect(await aboveMean()).toEqual(before);
    await reportsReady(page);
    await page.locator('#year').selectOption('2021');
    await reportsReady(page);
    const shown = await cells(page, '#above-mean-table tbody tr');
    expect(shown).toEqual(
      (before as { id: number; department: string; hired: number }[]).map((d) => [String(d.id), d.department, String(d.hired)]),
    );
  });

  it('downloads a table as an Avro file (the key in a header) and restores that file from the file input (merge)', async () => {
    await page.getByLabel('Table', { exact: true }).selectOption('jobs');
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download .avro' }).click()]);
    const bytes = readFileSync((await download.path())!);
    expect(bytes.subarray(0, 4).toString('latin1')).toBe('Obj\x01');
    expect(download.suggestedFilename()).toMatch(/^jobs-\d{8}T\d{6}\.\d{3}Z\.avro$/);
    await poll(() => page.locator('#download-status').textContent()).toMatch(/^Downloaded jobs-.*\.avro \(\d/);
    const get = requests.find((r) => /\/backup\/jobs$/.test(r.url));
    expect(get?.authorization).toBe(`Bearer ${KEY}`);

    // A job the file does not hold: a merge keeps it.
    const extra = await t.app.inject({
      method: 'POST',
      url: '/upload/jobs',
      payload: '9001,Backup tester\n',
      headers: { ...auth, 'content-type': 'text/csv' },
    });
    expect(extra.json()).toMatchObject({ inserted: 1 });

    await page.locator('#restore-file-input').setInputFiles({ name: download.suggestedFilename(), mimeType: 'avro/binary', buffer: bytes });
    expect(await page.getByLabel('Into table').inputValue()).toBe('jobs');
    await page.getByRole('radio', { name: /^Merge/ }).check();
    await page.getByRole('button', { name: 'Restore from file' }).click();
    const status = page.locator('#restore-file-status');
    await poll(() => status.getAttribute('data-kind')).toBe('success');
    expect(await status.textContent()).toBe(`Restored jobs: ${ROWS.jobs} rows of the backup merged in (merge).`);
    expect(await page.locator('#restore-confirm').isVisible()).toBe(false);
    await poll(() => tableCounts(page)).toEqual({ ...ROWS, jobs: ROWS.jobs + 1 });

    await page.screenshot({ path: join(ROOT, 'test-results/backup-panel.png'), fullPage: true });

    // On a phone the section fits the screen: the list scrolls in its own box, the page never sideways.
    const phone = await context.newPage();
    try {
      await phone.setViewportSize({ width: 390, height: 844 });
      await phone.goto(page.url());
      await phone.locator('#backups-table tbody tr').first().waitFor();
      const overflow = await phone.evaluate(() => {
        const g = globalThis as unknown as { document: { documentElement: { scrollWidth: number; clientWidth: number } } };
        return g.document.documentElement.scrollWidth - g.document.documentElement.clientWidth;
      });
      expect(overflow).toBeLessThanOrEqual(0);
      await phone.locator('#backups').screenshot({ path: join(ROOT, 'test-results/backup-panel-phone.png') });
    } finally {
      await phone.close();
    }
  });

  it('shows the 401 message for a wrong key, writes and restores nothing, and never puts a key in a URL', async () => {
    expectedErrors = /status of 401/;
    const files = readdirSync(dir).length;
    const key = page.getByLabel('API key');
    await key.fill(WRONG);
    await key.press('Tab');
    // The key changed: the list is read again, and refused.
    const listStatus = page.locator('#backups-list-status');
    await poll(() => listStatus.textContent()).toContain('The API key is not valid (HTTP 401)');
    expect(await listStatus.getAttribute('role')).toBe('alert');
    expect(await page.locator('#backups-box').isHidden()).toBe(true);

    await page.getByRole('button', { name: 'Back up all tables' }).click();
    const status = page.locator('#backup-status');
    await poll(() => status.textContent()).toBe(
      'No backup was written: The API key is not valid (HTTP 401). Type a valid API key under Load data, then try again.',
    );
    expect(await status.getAttribute('role')).toBe('alert');
    expect(readdirSync(dir)).toHaveLength(files);

    await page.getByRole('button', { name: 'Download .avro' }).click();
    await poll(() => page.locator('#download-status').textContent()).toContain(
      'could not be downloaded: The API key is not valid (HTTP 401)',
    );

    await page.getByRole('button', { name: 'Restore from file' }).click();
    const fileStatus = page.locator('#restore-file-status');
    await poll(() => fileStatus.textContent()).toContain('Nothing was restored: The API key is not valid (HTTP 401)');
    expect((await t.app.inject('/tables')).json().tables).toContainEqual({ name: 'jobs', rows: ROWS.jobs + 1 });

    expect(requests.length).toBeGreaterThan(0);
    expect(requests.filter((r) => r.url.includes(KEY) || r.url.includes(WRONG))).toEqual([]);
    const keyed = requests.filter((r) => /\/(backups?|restore)(\/|\?|$)/.test(new URL(r.url).pathname + new URL(r.url).search));
    expect(keyed.length).toBeGreaterThan(5);
    for (const r of keyed) expect(r.authorization).toMatch(/^Bearer /);
  });
});
