import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { percentile, summarize } from '../../src/cli/bench/stats.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
/** Newest modification time of the files under `dir`. */
const newest = (dir: string): number =>
  Math.max(
    ...readdirSync(dir, { withFileTypes: true }).map((entry) =>
      entry.isDirectory() ? newest(join(dir, entry.name)) : statSync(join(dir, entry.name)).mtimeMs,
    ),
  );
const stamp = join(root, 'dist', '.build-stamp');
// `make test` builds dist/ first: the bench runs from it. After an edit without a build, a private
// build (under node_modules, so packages resolve) that never races a `npm run build` of dist/.
const fresh = existsSync(stamp) && statSync(stamp).mtimeMs >= newest(join(root, 'src'));
const build = fresh ? join(root, 'dist') : join(root, 'node_modules', '.cache', `hr-bench-test-${process.pid}`);

function copySql(from: string, to: string): void {
  for (const entry of readdirSync(from, { withFileTypes: true })) {
    if (entry.isDirectory()) copySql(join(from, entry.name), join(to, entry.name));
    else if (entry.name.endsWith('.sql')) {
      mkdirSync(to, { recursive: true });
      cpSync(join(from, entry.name), join(to, entry.name));
    }
  }
}

describe('bench statistics', () => {
  it('takes nearest-rank percentiles', () => {
    const values = Array.from({ length: 100 }, (_, i) => 100 - i);
    expect(percentile(values, 50)).toBe(50);
    expect(percentile(values, 99)).toBe(99);
    expect(percentile([7], 99)).toBe(7);
    expect(summarize([3, 1, 2])).toEqual({ count: 3, p50_ms: 2, p99_ms: 3, max_ms: 3 });
  });
});

describe('npm run bench (smoke run, 2,000 rows, SQLite)', () => {
  const out = mkdtempSync(join(tmpdir(), 'hr-bench-test-'));
  beforeAll(() => {
    if (fresh) return;
    execFileSync(join(root, 'node_modules/.bin/tsc'), ['-p', join(root, 'tsconfig.build.json'), '--outDir', build], { cwd: root });
    copySql(join(root, 'src'), build);
  });
  afterAll(() => {
    rmSync(out, { recursive: true, force: true });
    if (!fresh) rmSync(build, { recursive: true, force: true });
  });

  it('starts the built server, uploads over HTTP, measures every part and writes its figures as JSON', () => {
    const stdout = execFileSync(
      process.execPath,
      [join(build, 'cli/bench.js'), '--rows', '2000', '--runs', '1', '--backends', 'sqlite', '--duration', '1', '--out', out],
      { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
    );
    expect(stdout).toMatch(/\| upload, median/);
    expect(stdout).toMatch(/\| sqlite +\| 2k +\| server peak RSS/);
    const files = readdirSync(out);
    expect(files).toHaveLength(1);
    const result = JSON.parse(readFileSync(join(out, files[0]!), 'utf8'));
    expect(result.machine.cores).toBeGreaterThan(0);
    const [sqlite] = result.results;
    expect(sqlite).toMatchObject({ backend: 'sqlite', rows: 2000 });
    expect(sqlite.upload.runs[0]).toMatchObject({ inserted: 2000, rejected: 0 });
    expect(sqlite.upload.runs[0].incomplete).toBeGreaterThan(0);
    expect(sqlite.memory.peak_rss_mb).toBeGreaterThan(10);
    expect(Object.keys(sqlite.latency)).toEqual(['hired_employees', 'departments_above_mean']);
    expect(sqlite.latency.hired_employees.cold.count).toBeGreaterThan(0);
    expect(Object.keys(sqlite.throughput)).toEqual(['health', 'hired_employees', 'departments_above_mean']);
    expect(sqlite.throughput.health.requests_per_s).toBeGreaterThan(0);
    expect(sqlite.during.latency.health.count).toBeGreaterThan(0);
    // The sqlite3 CLI reference runs when the CLI is installed, and is skipped with a hint otherwise.
    if (sqlite.upload.reference === undefined) expect(sqlite.upload.reference_skipped).toMatch(/apt-get install sqlite3/);
    else expect(sqlite.upload.reference.median_ms).toBeGreaterThan(0);
    // The bare engine and the tool a user would pick: each loaded every row (compare() checks the
    // count) or is named as missing with how to install it.
    const { compared, skipped } = sqlite.upload.comparisons;
    expect(compared.length + skipped.length).toBe(2);
    for (const c of compared) {
      expect(c).toMatchObject({ median_ms: expect.any(Number), ratio: expect.any(Number), limit: expect.any(Number) });
      // Run beside each of ours, not after them all.
      expect(c.runs_ms).toHaveLength(sqlite.upload.runs.length);
      expect(result.targets.map((t: { what: string }) => t.what)).toContain(`upload time / ${c.tool}`);
    }
    for (const s of skipped) expect(s).toMatch(/not found: install it/);
    // The ratio table: our upload against each reference, with issue 16's bound.
    expect(stdout).toMatch(/\| ours ÷ reference/);
    if (compared.length > 0) expect(stdout).toMatch(/\| sqlite 2k +\| sqlite3 \.import, PK-only table/);
    // The restore part: the uploaded rows restored over the table, beside /health.
    expect(sqlite.restore.rows_per_s).toBeGreaterThan(0);
    expect(sqlite.restore.health.count).toBeGreaterThan(0);
    // One run per --runs, its upload's CPU beside the restore's, and the medians' ratios.
    expect(sqlite.restore.runs).toHaveLength(1);
    const [restoreRun] = sqlite.restore.runs;
    expect(restoreRun.upload_cpu_s).toBeGreaterThan(0);
    expect(restoreRun.restore_cpu_s).toBeGreaterThan(0);
    expect(sqlite.restore.vs_upload).toBeCloseTo(restoreRun.upload_ms / restoreRun.restore_ms, 1);
    expect(sqlite.restore.vs_upload_cpu).toBeCloseTo(restoreRun.upload_cpu_s / restoreRun.restore_cpu_s, 1);
    expect(result.targets.map((t: { what: string }) => t.what)).toEqual(
      expect.arrayContaining(['restore rate / upload rate', 'backup rows/s']),
    );
    expect(stdout).toMatch(/^sqlite \| 2000 \| 1 \|/m);
    // The import part: the file imported from S3 (s3rver) as a job, beside the same upload.
    expect(sqlite.import).toMatchObject({ upload_runs_ms: [expect.any(Number)], import_runs_ms: [expect.any(Number)] });
    expect(sqlite.import.vs_upload).toBeGreaterThan(0);
    expect(stdout).toMatch(/S3 import job vs HTTP upload/);
    expect(result.targets.length).toBeGreaterThan(5);
  });
});
