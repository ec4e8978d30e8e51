/**
 * The `import` part: the generated file imported as a job from S3 (s3rver on loopback, the real
 * SDK client, as the tests do) against the same file uploaded over HTTP, alternately on fresh
 * databases; medians and their ratio (the target: the import within 1.2× of the upload).
 */
import { createReadStream, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { freshPostgres, freshSqlite, type BackendName } from './databases.js';
import { getJson, request, uploadFile } from './http.js';
import type { BenchOptions } from './options.js';
import type { Files } from './run.js';
import { startServer } from './server.js';
import { median, round } from './stats.js';

export interface ImportFigures {
  upload_runs_ms: number[];
  import_runs_ms: number[];
  upload_median_ms: number;
  import_median_ms: number;
  rows_per_s: number;
  /** Import time over upload time (the target: at most 1.2). */
  vs_upload: number;
}

const BUCKET = 'bench-imports';
const CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
const log = (message: string): void => console.error(`[bench] ${message}`);

interface Job {
  status: string;
  inserted?: number;
  message: string | null;
}

/** POST /imports, then GET /imports/{id} every 50 ms until it ends; resolves with the ms from the POST. */
async function timedImport(base: string, source: string, rows: number): Promise<number> {
  const started = performance.now();
  const queued = await request<{ import_id: string }>(`${base}/imports`, { method: 'POST', json: { table: 'hired_employees', source } });
  if (queued.status !== 202) throw new Error(`POST /imports answered ${queued.status}`);
  for (;;) {
    const job = await getJson<Job>(`${base}/imports/${queued.body.import_id}`);
    if (job.status === 'committed') {
      if (job.inserted !== rows) throw new Error(`the import inserted ${job.inserted} rows, not ${rows}`);
      return performance.now() - started;
    }
    if (job.status !== 'queued' && job.status !== 'running') throw new Error(`the import ended ${job.status}: ${job.message}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export async function benchImport(
  backend: BackendName,
  rows: number,
  files: Files,
  options: BenchOptions,
): Promise<ImportFigures | string> {
  let S3rver: typeof import('s3rver').default;
  try {
    S3rver = (await import('s3rver')).default;
  } catch {
    return 's3rver (a dev dependency) is not installed';
  }
  const dir = mkdtempSync(join(tmpdir(), 'hr-bench-s3-'));
  const s3 = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: dir, configureBuckets: [{ name: BUCKET, configs: [] }] });
  const { port } = await s3.run();
  const endpoint = `http://127.0.0.1:${port}`;
  // WHEN_REQUIRED: a streamed body would otherwise go aws-chunked with a checksum trailer, which
  // s3rver stores as part of the object.
  const client = new S3Client({
    endpoint,
    forcePathStyle: true,
    region: 'us-east-1',
    credentials: CREDENTIALS,
    requestChecksumCalculation: 'WHEN_REQUIRED',
  });
  try {
    const key = `bench/hired_employees-${rows}.csv`;
    await client.send(
      new PutObjectCommand({
        Bucket: BUCKET,
        Key: key,
        Body: createReadStream(files.hired_employees),
        ContentLength: statSync(files.hired_employees).size,
      }),
    );
    const env = {
      AWS_ENDPOINT_URL_S3: endpoint,
      AWS_ACCESS_KEY_ID: CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey,
      AWS_REGION: 'us-east-1',
    };
    const uploads: number[] = [];
    const imports: number[] = [];
    for (let i = 0; i < options.runs; i++) {
      for (const kind of ['upload', 'import'] as const) {
        const db = backend === 'sqlite' ? freshSqlite() : await freshPostgres(options.pgUrl);
        const server = await startServer({ databaseUrl: db.url, env });
        try {
          await uploadFile(server.base, 'departments', files.departments);
          await uploadFile(server.base, 'jobs', files.jobs);
          if (kind === 'upload') {
            const upload = await uploadFile(server.base, 'hired_employees', files.hired_employees);
            if (upload.report.inserted !== rows) throw new Error(`the upload inserted ${upload.report.inserted} rows, not ${rows}`);
            uploads.push(round(upload.ms, 1));
          } else {
            imports.push(round(await timedImport(server.base, `s3://${BUCKET}/${key}`, rows), 1));
          }
        } finally {
          await server.stop();
          await db.drop();
        }
      }
      log(
        `${backend} ${rows} rows run ${i + 1}/${options.runs}: upload ${(uploads.at(-1)! / 1000).toFixed(2)} s, S3 import ${(imports.at(-1)! / 1000).toFixed(2)} s`,
      );
    }
    const uploadMedian = median(uploads);
    const importMedian = median(imports);
    return {
      upload_runs_ms: uploads,
      import_runs_ms: imports,
      upload_median_ms: uploadMedian,
      import_median_ms: importMedian,
      rows_per_s: Math.round(rows / (importMedian / 1000)),
      vs_upload: round(importMedian / uploadMedian, 2),
    };
  } finally {
    client.destroy();
    await s3.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The import figures of every backend and size, as a table for the console. */
export function importTable(results: readonly { backend: string; rows: number; import?: ImportFigures | string }[]): string {
  const lines = ['S3 import job vs HTTP upload | rows | upload s (median) | import s (median) | rows/s | × upload time (target ≤ 1.2)'];
  for (const r of results) {
    if (r.import === undefined) continue;
    if (typeof r.import === 'string') lines.push(`${r.backend} | ${r.rows} | skipped: ${r.import}`);
    else
      lines.push(
        `${r.backend} | ${r.rows} | ${(r.import.upload_median_ms / 1000).toFixed(2)} | ${(r.import.import_median_ms / 1000).toFixed(2)} | ${r.import.rows_per_s} | ${r.import.vs_upload}`,
      );
  }
  return lines.length === 1 ? '' : lines.join('\n');
}
