import { performance } from 'node:perf_hooks';
import { freshPostgres, freshSqlite, type BackendName, type FreshDatabase } from './databases.js';
import { uploadFile, type UploadResult } from './http.js';
import type { BenchOptions } from './options.js';
import { latencyDuring, reportLatency, throughput, type ReportLatency, type Throughput, type EndpointName } from './probes.js';
import { ComparisonRuns, type Comparisons } from './comparisons.js';
import type { Reference } from './references.js';
import { benchImport, type ImportFigures } from './import.js';
import { benchRestore, type RestoreFigures } from './restore.js';
import { startServer, type RunningServer } from './server.js';
import { median, round, type LatencySummary } from './stats.js';

export interface Files {
  hired_employees: string;
  departments: string;
  jobs: string;
  bytes: number;
}

export interface RssSample {
  /** Share of the file sent so far, 0..1. */
  progress: number;
  rss_mb: number;
}

export interface UploadRun {
  ms: number;
  /** CPU seconds the server spent on the upload. */
  server_cpu_s: number;
  rows_per_s: number;
  inserted: number;
  rejected: number;
  incomplete: number;
  peak_rss_mb: number;
  rss_samples: RssSample[];
}

export interface BackendResult {
  backend: BackendName;
  rows: number;
  file_mb: number;
  upload?: {
    runs: UploadRun[];
    median_ms: number;
    rows_per_s: number;
    reference?: { tool: string; version: string; runs_ms: number[]; median_ms: number; ratio: number; cpu_s?: number[] };
    reference_skipped?: string;
    /** The bare engine (PK-only table) and the tool a user would pick, beside the same-schema reference. */
    comparisons?: Comparisons;
  };
  memory?: { peak_rss_mb: number; rss_at_25pct_mb: number; rss_at_end_mb: number };
  latency?: Record<string, ReportLatency>;
  throughput?: Record<EndpointName, Throughput>;
  during?: { upload_ms: number; latency: Record<EndpointName, LatencySummary> };
  restore?: RestoreFigures;
  /** The S3 import job against the HTTP upload; a string when the part could not run. */
  import?: ImportFigures | string;
}

const fresh = (backend: BackendName, options: BenchOptions): Promise<FreshDatabase> =>
  backend === 'sqlite' ? Promise.resolve(freshSqlite()) : freshPostgres(options.pgUrl);

const log = (message: string): void => console.error(`[bench] ${message}`);

/** Starts a server on a fresh database and loads departments and jobs (untimed). */
async function serverWithReferences(backend: BackendName, options: BenchOptions, files: Files) {
  const db = await fresh(backend, options);
  const server = await startServer({
    databaseUrl: db.url,
    nodeFlags: options.cpuProf === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${options.cpuProf}`],
  });
  await uploadFile(server.base, 'departments', files.departments);
  await uploadFile(server.base, 'jobs', files.jobs);
  return { db, server };
}

const query = (options: BenchOptions): string => (options.batchSize === undefined ? '' : `?batch_size=${options.batchSize}`);

/** The timed upload, with the server's RSS sampled every 100 ms against the share of bytes sent. */
async function timedUpload(server: RunningServer, files: Files, options: BenchOptions): Promise<UploadRun> {
  const samples: RssSample[] = [];
  const cpuBefore = server.cpuSeconds();
  const started = performance.now();
  let expectedMs = 0;
  const timer = setInterval(() => {
    try {
      // Progress by time against the run's duration, fixed up once it is known.
      samples.push({ progress: performance.now() - started, rss_mb: round(server.rssMb(), 1) });
    } catch {
      // The process is gone; the upload will fail on its own.
    }
  }, 100);
  let result: UploadResult;
  try {
    result = await uploadFile(server.base, 'hired_employees', files.hired_employees, query(options));
  } finally {
    clearInterval(timer);
    expectedMs = performance.now() - started;
  }
  const cpu = server.cpuSeconds() - cpuBefore;
  const report = result.report;
  if (report.status !== 'committed') throw new Error(`the upload ended ${report.status}`);
  return {
    ms: round(result.ms, 1),
    server_cpu_s: round(cpu, 2),
    rows_per_s: Math.round(report.inserted / (result.ms / 1000)),
    inserted: report.inserted,
    rejected: report.rejected,
    incomplete: report.incomplete,
    peak_rss_mb: round(server.peakRssMb(), 1),
    rss_samples: samples.map((s) => ({ progress: round(s.progress / expectedMs, 3), rss_mb: s.rss_mb })),
  };
}

/** Every requested part for one backend and one file size. */
export async function benchBackend(
  backend: BackendName,
  rows: number,
  files: Files,
  options: BenchOptions,
  reference: Reference | string | undefined,
): Promise<BackendResult> {
  const result: BackendResult = { backend, rows, file_mb: round(files.bytes / 1e6, 1) };
  const parts = options.parts;
  const measuresUploads = parts.has('upload') || parts.has('memory');
  const needsLoadedServer = parts.has('latency') || parts.has('throughput');
  const loads = measuresUploads ? options.runs : needsLoadedServer ? 1 : 0;
  const runs: UploadRun[] = [];
  const referenceMs: number[] = [];
  const referenceCpu: number[] = [];
  const comparisons = parts.has('upload') ? new ComparisonRuns(backend, options.pgUrl, log) : undefined;
  for (let i = 0; i < loads; i++) {
    const { db, server } = await serverWithReferences(backend, options, files);
    try {
      const run = await timedUpload(server, files, options);
      runs.push(run);
      log(
        `${backend} ${rows} rows, run ${i + 1}/${loads}: ${(run.ms / 1000).toFixed(2)} s (server CPU ${run.server_cpu_s} s), peak RSS ${run.peak_rss_mb} MB`,
      );
      if (i === loads - 1 && parts.has('latency')) {
        result.latency = await reportLatency(server.base, rows + 1);
        log(`${backend} report latency measured`);
      }
      if (i === loads - 1 && parts.has('throughput')) {
        result.throughput = await throughput(server.base, options.connections, options.duration);
        log(`${backend} throughput measured`);
      }
    } finally {
      await server.stop();
      await db.drop();
    }
    if (parts.has('upload') && typeof reference === 'object') {
      const ref = await reference.load(files.hired_employees);
      if (ref.rows !== rows) throw new Error(`${reference.tool} stored ${ref.rows} rows, not ${rows}`);
      referenceMs.push(round(ref.ms, 1));
      if (ref.cpu_s !== undefined) referenceCpu.push(round(ref.cpu_s, 2));
      log(
        `${reference.tool} run ${i + 1}/${loads}: ${(ref.ms / 1000).toFixed(2)} s${ref.cpu_s === undefined ? '' : ` (CPU ${ref.cpu_s.toFixed(2)} s)`}`,
      );
    }
    await comparisons?.runOnce(files.hired_employees, rows, i + 1, loads);
  }
  if (parts.has('upload')) {
    const medianMs = median(runs.map((r) => r.ms));
    result.upload = { runs, median_ms: medianMs, rows_per_s: Math.round(rows / (medianMs / 1000)) };
    if (typeof reference === 'object') {
      const refMedian = median(referenceMs);
      result.upload.reference = {
        tool: reference.tool,
        version: reference.version,
        runs_ms: referenceMs,
        median_ms: refMedian,
        ratio: round(medianMs / refMedian, 2),
        ...(referenceCpu.length > 0 ? { cpu_s: referenceCpu } : {}),
      };
    } else if (typeof reference === 'string') {
      result.upload.reference_skipped = reference;
    }
    if (comparisons !== undefined) result.upload.comparisons = comparisons.result(medianMs);
  }
  if (parts.has('memory') && runs.length > 0) {
    const worst = runs.reduce((a, b) => (b.peak_rss_mb > a.peak_rss_mb ? b : a));
    const at = (p: number): number => worst.rss_samples.find((s) => s.progress >= p)?.rss_mb ?? Number.NaN;
    result.memory = {
      peak_rss_mb: worst.peak_rss_mb,
      rss_at_25pct_mb: at(0.25),
      rss_at_end_mb: worst.rss_samples.at(-1)?.rss_mb ?? Number.NaN,
    };
  }
  if (parts.has('during')) {
    const { db, server } = await serverWithReferences(backend, options, files);
    try {
      const started = performance.now();
      const { latency } = await latencyDuring(
        server.base,
        uploadFile(server.base, 'hired_employees', files.hired_employees, query(options)),
      );
      result.during = { upload_ms: round(performance.now() - started, 1), latency };
      log(`${backend} latency during an upload measured`);
    } finally {
      await server.stop();
      await db.drop();
    }
  }
  if (parts.has('restore')) result.restore = await benchRestore(backend, rows, files, options);
  if (parts.has('import')) result.import = await benchImport(backend, rows, files, options);
  return result;
}
