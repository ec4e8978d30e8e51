import { createReadStream, createWriteStream, mkdtempSync, rmSync, statSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pipeline } from 'node:stream/promises';
import { freshPostgres, freshSqlite, type BackendName } from './databases.js';
import { getJson, request, uploadFile } from './http.js';
import type { BenchOptions } from './options.js';
import type { Files } from './run.js';
import { startServer } from './server.js';
import { median, round, summarize, type LatencySummary } from './stats.js';

/** One run of the `restore` part: a replace restore of the table just uploaded, against that upload. */
export interface RestoreRun {
  upload_ms: number;
  /** CPU seconds (user + system, every thread) the server spent on the upload alone. */
  upload_cpu_s: number;
  upload_rows_per_s: number;
  backup_mb: number;
  /** GET /backup/{table} of the uploaded rows, streamed to a file. */
  backup_ms: number;
  backup_rows_per_s: number;
  /** CPU seconds the backup's server spent on the backup: steadier than wall time on a shared machine. */
  backup_cpu_s: number;
  restore_ms: number;
  rows_per_s: number;
  /** CPU seconds the restore's server spent on the restore (its start-up left out, as the upload's is). */
  restore_cpu_s: number;
  /** Restore rate over upload rate. */
  vs_upload: number;
  /** Peak RSS of a server started for the restore alone. */
  peak_rss_mb: number;
  /** RSS sampled every 250 ms: share of the restore's time elapsed (0..1) → MB. */
  rss_samples: { progress: number; rss_mb: number }[];
  /** GET /health every 50 ms during the restore. */
  health: LatencySummary;
}

/**
 * The `restore` part over `--runs` runs, each on a fresh database: every run, and the runs'
 * medians under a run's names (peak_rss_mb: the highest; health: every run's requests together).
 */
export type RestoreFigures = Omit<RestoreRun, 'upload_rows_per_s' | 'rss_samples'> & {
  runs: RestoreRun[];
  /** The upload's CPU over the restore's, from the medians: above 1, the restore costs the server less. */
  vs_upload_cpu: number;
};

const log = (message: string): void => console.error(`[bench] ${message}`);

/** node's --cpu-prof flags for a server of this part, the profile named for what it ran. */
const profileFlags = (options: BenchOptions, what: string): string[] =>
  options.cpuProf === undefined
    ? []
    : [
        '--cpu-prof',
        `--cpu-prof-dir=${options.cpuProf}`,
        `--cpu-prof-name=${what}-${new Date().toISOString().replace(/[:.]/g, '-')}.cpuprofile`,
      ];

/** Streams GET `url` into `file`. */
function download(url: string, file: string): Promise<void> {
  return new Promise((resolve, reject) => {
    http
      .get(url, (res) => {
        if (res.statusCode !== 200) return reject(new Error(`GET ${url}: ${res.statusCode}`));
        pipeline(res, createWriteStream(file)).then(resolve, reject);
      })
      .on('error', reject);
  });
}

/** POSTs an Avro file to /restore/{table}?mode=replace, streamed from disk; resolves with the rows restored. */
function restoreFile(base: string, table: string, file: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      `${base}/restore/${table}?mode=replace`,
      { method: 'POST', headers: { 'content-type': 'application/octet-stream', 'content-length': statSync(file).size } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          if (res.statusCode !== 200) return reject(new Error(`restore answered ${res.statusCode}: ${text.slice(0, 300)}`));
          resolve((JSON.parse(text) as { restored: number }).restored);
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    createReadStream(file, { highWaterMark: 64 * 1024 })
      .on('error', reject)
      .pipe(req);
  });
}

/**
 * The part's runs, one after the other (each on a fresh database), and their medians. The upload
 * and the restore of a run follow each other, so a ratio of the medians compares like with like
 * on a machine whose speed drifts.
 */
export async function benchRestore(backend: BackendName, rows: number, files: Files, options: BenchOptions): Promise<RestoreFigures> {
  const runs: RestoreRun[] = [];
  const health: number[] = [];
  for (let i = 0; i < options.runs; i++) {
    const { healthMs, ...run } = await restoreOnce(backend, rows, files, options);
    runs.push(run);
    health.push(...healthMs);
    log(
      `${backend} ${rows} rows, restore run ${i + 1}/${options.runs}: upload ${(run.upload_ms / 1000).toFixed(2)} s (${run.upload_cpu_s} CPU s); ` +
        `backup ${(run.backup_ms / 1000).toFixed(2)} s (${run.backup_rows_per_s} rows/s, ${run.backup_cpu_s} CPU s); ` +
        `restore ${(run.restore_ms / 1000).toFixed(2)} s (${run.vs_upload}× the upload's rate, ${run.restore_cpu_s} CPU s), ` +
        `peak RSS ${run.peak_rss_mb} MB, /health p99 ${run.health.p99_ms} ms, max ${run.health.max_ms} ms`,
    );
  }
  const mid = (pick: (r: RestoreRun) => number): number => median(runs.map(pick));
  const uploadMs = mid((r) => r.upload_ms);
  const restoreMs = mid((r) => r.restore_ms);
  const backupMs = mid((r) => r.backup_ms);
  const uploadCpu = mid((r) => r.upload_cpu_s);
  const restoreCpu = mid((r) => r.restore_cpu_s);
  return {
    runs,
    backup_mb: runs[0]!.backup_mb,
    upload_ms: uploadMs,
    upload_cpu_s: uploadCpu,
    backup_ms: backupMs,
    backup_rows_per_s: Math.round(rows / (backupMs / 1000)),
    backup_cpu_s: mid((r) => r.backup_cpu_s),
    restore_ms: restoreMs,
    rows_per_s: Math.round(rows / (restoreMs / 1000)),
    restore_cpu_s: restoreCpu,
    vs_upload: round(uploadMs / restoreMs, 2),
    vs_upload_cpu: round(uploadCpu / restoreCpu, 2),
    peak_rss_mb: Math.max(...runs.map((r) => r.peak_rss_mb)),
    health: summarize(health),
  };
}

/**
 * Uploads the generated file into a fresh database (timed), downloads its backup, then restores
 * it over the full table (`mode=replace`) on a server started for that alone (its peak RSS is the
 * restore's), with GET /health every 50 ms beside it.
 */
async function restoreOnce(
  backend: BackendName,
  rows: number,
  files: Files,
  options: BenchOptions,
): Promise<RestoreRun & { healthMs: number[] }> {
  const db = backend === 'sqlite' ? freshSqlite() : await freshPostgres(options.pgUrl);
  const dir = mkdtempSync(join(tmpdir(), 'hr-bench-restore-'));
  const backup = join(dir, 'hired_employees.avro');
  try {
    let uploadMs: number;
    let uploadCpu: number;
    let backupMs: number;
    let backupCpu: number;
    const loader = await startServer({ databaseUrl: db.url });
    try {
      await uploadFile(loader.base, 'departments', files.departments);
      await uploadFile(loader.base, 'jobs', files.jobs);
      const cpuBefore = loader.cpuSeconds();
      const upload = await uploadFile(loader.base, 'hired_employees', files.hired_employees);
      uploadCpu = loader.cpuSeconds() - cpuBefore;
      if (upload.report.inserted !== rows) throw new Error(`the upload inserted ${upload.report.inserted} rows, not ${rows}`);
      uploadMs = upload.ms;
    } finally {
      await loader.stop();
    }
    // The backup on a server of its own, so that a CPU profile (--cpu-prof) holds the backup alone.
    const backuper = await startServer({ databaseUrl: db.url, nodeFlags: profileFlags(options, `backup-${backend}`) });
    try {
      const cpuBefore = backuper.cpuSeconds();
      const backupStarted = performance.now();
      await download(`${backuper.base}/backup/hired_employees`, backup);
      backupMs = performance.now() - backupStarted;
      backupCpu = backuper.cpuSeconds() - cpuBefore;
    } finally {
      await backuper.stop();
    }
    const server = await startServer({ databaseUrl: db.url, nodeFlags: profileFlags(options, `restore-${backend}`) });
    try {
      let done = false;
      const health: number[] = [];
      const poll = (async () => {
        while (!done) {
          const started = performance.now();
          const res = await request(`${server.base}/health`);
          health.push(performance.now() - started);
          if (res.status !== 200) throw new Error(`GET /health during the restore: ${res.status}`);
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      })();
      const cpuBefore = server.cpuSeconds();
      const started = performance.now();
      const samples: { at: number; rss_mb: number }[] = [];
      const sampler = setInterval(() => samples.push({ at: performance.now() - started, rss_mb: round(server.rssMb(), 1) }), 250);
      let restored: number;
      try {
        restored = await restoreFile(server.base, 'hired_employees', backup);
      } finally {
        clearInterval(sampler);
        done = true;
        await poll;
      }
      const restoreMs = performance.now() - started;
      const restoreCpu = server.cpuSeconds() - cpuBefore;
      if (restored !== rows) throw new Error(`the restore wrote ${restored} rows, not ${rows}`);
      const tables = await getJson<{ tables: { name: string; rows: number }[] }>(`${server.base}/tables`);
      if (tables.tables.find((t) => t.name === 'hired_employees')?.rows !== rows)
        throw new Error('the table does not hold the restored rows');
      return {
        upload_ms: round(uploadMs, 1),
        upload_cpu_s: round(uploadCpu, 2),
        upload_rows_per_s: Math.round(rows / (uploadMs / 1000)),
        backup_mb: round(statSync(backup).size / 1e6, 1),
        backup_ms: round(backupMs, 1),
        backup_rows_per_s: Math.round(rows / (backupMs / 1000)),
        backup_cpu_s: round(backupCpu, 2),
        restore_ms: round(restoreMs, 1),
        rows_per_s: Math.round(rows / (restoreMs / 1000)),
        restore_cpu_s: round(restoreCpu, 2),
        vs_upload: round(uploadMs / restoreMs, 2),
        peak_rss_mb: round(server.peakRssMb(), 1),
        rss_samples: samples.map((x) => ({ progress: round(x.at / restoreMs, 3), rss_mb: x.rss_mb })),
        health: summarize(health),
        healthMs: health,
      };
    } finally {
      await server.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await db.drop();
  }
}

/** The restore figures of every backend and size (medians of the runs), as a table for the console. */
export function restoreTable(results: readonly { backend: string; rows: number; restore?: RestoreFigures }[]): string {
  const rowsOf = results.flatMap((r) => (r.restore === undefined ? [] : [{ ...r.restore, backend: r.backend, rows: r.rows }]));
  if (rowsOf.length === 0) return '';
  const lines = [
    'backup and restore (replace), medians | rows | runs | upload s | upload CPU s | backup s | backup rows/s | restore s | restore CPU s | rows/s | × upload rate | × upload CPU | peak RSS MB | /health p99 ms | max ms',
  ];
  const s = (ms: number): string => (ms / 1000).toFixed(2);
  for (const r of rowsOf) {
    lines.push(
      [
        r.backend,
        r.rows,
        r.runs.length,
        s(r.upload_ms),
        r.upload_cpu_s,
        s(r.backup_ms),
        r.backup_rows_per_s,
        s(r.restore_ms),
        r.restore_cpu_s,
        r.rows_per_s,
        r.vs_upload,
        r.vs_upload_cpu,
        r.peak_rss_mb,
        r.health.p99_ms,
        r.health.max_ms,
      ].join(' | '),
    );
  }
  return lines.join('\n');
}
