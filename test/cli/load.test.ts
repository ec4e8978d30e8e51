import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { expectedReports } from '../helpers/http.js';
import { startS3, type TestS3 } from '../helpers/s3.js';
import { ROOT } from '../helpers/server-process.js';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'hr-load-'));
const load = (args: string[], db: string, env: Record<string, string> = {}) =>
  run(process.execPath, ['dist/cli/load.js', ...args], { cwd: ROOT, env: { ...process.env, ...env, DATABASE_URL: `sqlite:${db}` } }).then(
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
    expect(result.stderr).toMatch(/line 2: id is not an integer/);
    expect(JSON.parse(result.stdout)).toMatchObject({ table: 'jobs', inserted: 1, rejected: 1 });
    expect(result.stderr).toMatch(/departments\.csv: CSV_MALFORMED: .*line 1/);
  });

  it('prints nothing but JSON reports on stdout, and counts the last row of a file without a final newline', async () => {
    const folder = join(dir, 'no-newline');
    mkdirSync(folder);
    const names = Array.from({ length: 12 }, (_, i) => `${i + 1},Department ${i + 1}`);
    writeFileSync(join(folder, 'departments.csv'), names.join('\n'));
    writeFileSync(join(folder, 'jobs.csv'), '1,Clerk\r\n2,"Chief, Clerk"');
    const result = await load([folder], join(dir, 'no-newline.db'));
    expect(result.code).toBe(0);
    const reports = result.stdout
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(reports.map((r) => [r.table, r.received, r.inserted])).toEqual([
      ['departments', 12, 12],
      ['jobs', 2, 2],
    ]);
    // The progress bar (stderr) ends on the same count as the report.
    const lastBar = (table: string) =>
      result.stderr
        .split('\n')
        .filter((l) => l.startsWith(table))
        .at(-1);
    expect(lastBar('departments')).toMatch(/100% \| (\d+)\/\1 bytes \| 12 rows$/);
    expect(lastBar('jobs')).toMatch(/\| 2 rows$/);
  });

  it('builds the dashboard without a word on stdout (npm run load builds first)', async () => {
    const out = join(dir, 'web');
    const result = await run(process.execPath, ['scripts/build-web.mjs', '--no-check', '--outdir', out], { cwd: ROOT });
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/app\.js\s+[\d.]+ KB/);
  });

  it('refuses a folder without any of the files', async () => {
    const result = await load([join(dir, 'nothing-here')], join(dir, 'none.db'));
    expect(result.code).toBe(2);
  });

  describe('from an S3 prefix (s3rver, the real SDK)', () => {
    let s3: TestS3;
    beforeAll(async () => {
      s3 = await startS3();
      for (const name of ['departments', 'jobs', 'hired_employees']) {
        await s3.put(`exports/2024/${name}.csv`, readFileSync(join(ROOT, 'data/historical', `${name}.csv`)));
      }
      await s3.put('exports/2024/notes.txt', 'not a table');
    });
    afterAll(() => s3?.close());

    it('loads the three files of s3://bucket/prefix/ like a local folder, the bar counting the object bytes', async () => {
      const db = join(dir, 's3.db');
      const result = await load([`s3://${s3.bucket}/exports/2024/`], db, s3.env);
      expect(result.stderr).not.toMatch(/Error/);
      expect(result.code).toBe(0);
      const reports = result.stdout
        .trimEnd()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(reports.map((r) => [r.table, r.inserted, r.incomplete, r.rejected])).toEqual([
        ['departments', 12, 0, 0],
        ['jobs', 183, 0, 0],
        ['hired_employees', 1999, 70, 0],
      ]);
      const size = statSync(join(ROOT, 'data/historical/hired_employees.csv')).size;
      const lastBar = result.stderr
        .split('\n')
        .filter((l) => l.startsWith('hired_employees'))
        .at(-1);
      expect(lastBar).toContain(`| ${size}/${size} bytes | 1999 rows`);
      const app = await buildApp(loadConfig({}, { DATABASE_URL: `sqlite:${db}`, LOG_LEVEL: 'silent' }));
      try {
        expect((await app.inject('/metrics/departments-above-mean?year=2021')).json()).toEqual(
          expectedReports().departments_above_mean_2021,
        );
      } finally {
        await app.close();
      }
    });

    it('takes the prefix without its final slash too, and says so when a prefix or a bucket holds none of the files', async () => {
      const partial = await load([`s3://${s3.bucket}/exports/2024`, '--dry-run'], join(dir, 's3-dry.db'), s3.env);
      expect(partial.code).toBe(0);
      expect(partial.stdout.trimEnd().split('\n')).toHaveLength(3);
      const empty = await load([`s3://${s3.bucket}/nothing/`], join(dir, 's3-none.db'), s3.env);
      expect(empty.code).toBe(2);
      expect(empty.stderr).toMatch(/No departments\.csv, jobs\.csv or hired_employees\.csv in s3:\/\/hr-imports\/nothing\//);
      const missing = await load(['s3://no-such-bucket/x/'], join(dir, 's3-missing.db'), s3.env);
      expect(missing.code).toBe(2);
      expect(missing.stderr).toMatch(/SOURCE_INVALID: .*no-such-bucket.*does not exist/);
      expect(missing.stdout).toBe('');
    });
  });
});
