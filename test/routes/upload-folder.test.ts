/**
 * The original service's calls, unchanged: POST /upload/{table} without a body loads
 * IMPORT_DIR/<table>.csv (here the shipped data/historical, as `make server` sets it).
 */
import { fileURLToPath } from 'node:url';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS, sqliteBackend } from '../helpers/backends.js';
import { startApp, type TestApp } from '../helpers/app.js';
import { expectedReports } from '../helpers/http.js';

const HISTORICAL = fileURLToPath(new URL('../../data/historical', import.meta.url));

for (const backend of BACKENDS) {
  describe.skipIf(!backend.available)(`body-less POST /upload/{table} from IMPORT_DIR (${backend.name})`, () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await startApp(backend, { IMPORT_DIR: HISTORICAL });
    });
    afterAll(async () => t.close());

    it("loads the three files as the original's calls did, and the reports answer as for an upload", async () => {
      const { counts, departments_above_mean_2021: aboveMean } = expectedReports();
      const departments = await t.app.inject({ method: 'POST', url: '/upload/departments' });
      expect(departments.statusCode, departments.body).toBe(200);
      expect(departments.json()).toMatchObject({ status: 'committed', table: 'departments', inserted: counts.departments });
      const jobs = await t.app.inject({ method: 'POST', url: '/upload/jobs' });
      expect(jobs.json()).toMatchObject({ status: 'committed', inserted: counts.jobs });
      const employees = await t.app.inject({ method: 'POST', url: '/upload/employees?batch_size=1000' });
      expect(employees.json()).toMatchObject({
        status: 'committed',
        table: 'hired_employees',
        batch_size: 1000,
        received: counts.hired_employees,
        inserted: counts.hired_employees,
        incomplete: counts.incomplete,
      });
      const report = await t.app.inject({ url: '/metrics/departments-above-mean?year=2021' });
      expect(report.json()).toEqual(aboveMean);
    });

    it('an empty text/csv body is still FILE_EMPTY, not the folder', async () => {
      const res = await t.app.inject({ method: 'POST', url: '/upload/jobs', headers: { 'content-type': 'text/csv' }, payload: '' });
      expect(res.statusCode).toBe(400);
      expect(res.json().error).toBe('FILE_EMPTY');
    });
  });
}

describe('body-less POST /upload/{table} without the folder or the file', () => {
  let without: TestApp;
  let empty: TestApp;
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'empty-import-dir-'));
    without = await startApp(sqliteBackend);
    empty = await startApp(sqliteBackend, { IMPORT_DIR: dir });
  });
  afterAll(async () => {
    await without.close();
    await empty.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('without IMPORT_DIR: 400 FILE_MISSING saying what to send', async () => {
    const res = await without.app.inject({ method: 'POST', url: '/upload/departments' });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ error: 'FILE_MISSING' });
    expect(res.json().message).toMatch(/multipart field "file".*IMPORT_DIR/);
  });

  it('with IMPORT_DIR but no such file: 400 FILE_MISSING naming it', async () => {
    const res = await empty.app.inject({ method: 'POST', url: '/upload/employees' });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ error: 'FILE_MISSING' });
    expect(res.json().message).toMatch(/hired_employees\.csv: no such file in the import folder/);
  });
});
