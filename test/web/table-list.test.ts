/**
 * The dashboard's table list comes from the data dictionary (Chromium, see support.ts): the load
 * hint names one file per table, and a file's name picks its table by the dictionary's names and aliases.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TABLE_NAMES, tableList } from '../../src/tables.js';
import { listen, startApp, type TestApp } from '../helpers/app.js';
import { sqliteBackend } from '../helpers/backends.js';
import { ensureBuilt, launchChromium, reportsReady } from './support.js';

describe('tableList', () => {
  it('lists the dictionary tables in order, in words', () => {
    expect(TABLE_NAMES).toEqual(['departments', 'jobs', 'hired_employees']);
    expect(tableList('or', '.csv')).toBe('departments.csv, jobs.csv or hired_employees.csv');
    expect(tableList('and')).toBe('departments, jobs and hired_employees');
  });
});

describe('dashboard table names (Chromium)', () => {
  let browser: Browser;
  let t: TestApp;
  let page: Page;

  beforeAll(async () => {
    ensureBuilt();
    [browser, t] = await Promise.all([launchChromium(), startApp(sqliteBackend)]);
    page = await browser.newPage();
    await page.goto(`${await listen(t.app)}/`);
    await reportsReady(page);
  });

  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  it('names one file per table in the load hint, and says so when the tables are empty', async () => {
    expect(await page.locator('#load-file-names').textContent()).toBe('departments.csv, jobs.csv and hired_employees.csv');
    expect(await page.locator('#tables-status').textContent()).toBe(
      'The tables are empty: load departments.csv, jobs.csv and hired_employees.csv.',
    );
  });

  it("picks each file's table from its name: the table whose word comes first, aliases included", async () => {
    const file = (name: string) => ({ name, mimeType: 'text/csv', buffer: Buffer.from('1,x\n') });
    const names = ['Jobs.csv', 'employees-2024.csv', 'employees-by-department.csv', 'department_jobs.csv', 'hired.csv', 'notes.csv'];
    await page.locator('#file-input').setInputFiles(names.map(file));
    const picked = await page
      .locator('#file-list select')
      .evaluateAll((selects) => selects.map((s) => [s.getAttribute('data-file'), (s as unknown as { value: string }).value]));
    expect(Object.fromEntries(picked)).toEqual({
      'Jobs.csv': 'jobs',
      'employees-2024.csv': 'hired_employees',
      'employees-by-department.csv': 'hired_employees',
      'department_jobs.csv': 'departments',
      'hired.csv': 'hired_employees',
      'notes.csv': '',
    });
  });
});
