import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { expectedReports } from '../helpers/http.js';
import { ROOT } from '../helpers/server-process.js';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'hr-load-'));
const load = (args: string[], db: string) =>
  run(process.execPath, ['dist/cli/load.js', ...args], { cwd: ROOT, env: { ...process.env, DATABASE_URL: `sqlite:${db}` } }).then(
    (r) => ({ code: 0, ...r }),
    (e: { code: number; stdout: string; stderr: string }) => e,
  );

describe('npm run load', () => {
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('loads the three historical files with the same reports as the API', async () => {
    const db = join(dir, 'historical.db');
    const result = await load(['data/historical'], db);
    expect(result.code).toBe(0);
    const reports = result.stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(reports.map((r) => [r.table, r.inserted, r.incomplete, r.rejected])).toEqual([
      ['departments', 12, 0, 0],
      ['jobs', 183, 0, 0],
      ['hired_employees', 1999, 70, 0],
    ]);
    const app = await buildApp(loadConfig({}, { DATABASE_URL: `sqlite:${db}`, LOG_LEVEL: 'silent' }));
    try {
      expect((await app.inject('/metrics/departments-above-mean?year=2021')).json()).toEqual(expectedReports().departments_above_mean_2021);
    } finally {
      await app.close();
    }
  });

  it('reports rejected lines and exits 1 when a file cannot be read as CSV', async () => {
    const folder = join(dir, 'bad');
    mkdirSync(folder);
    writeFileSync(join(folder, 'jobs.csv'), '1,Clerk\nx,Bad\n');
    writeFileSync(join(folder, 'departments.csv'), '1,"Sales\n');
    const result = await load([folder], join(dir, 'bad.db'));
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/line 2: id is not an integer/);
    expect(result.stderr).toMatch(/departments\.csv: CSV_MALFORMED: .*line 1/);
  });

  it('refuses a folder without any of the files', async () => {
    const result = await load([join(dir, 'nothing-here')], join(dir, 'none.db'));
    expect(result.code).toBe(2);
  });
});
