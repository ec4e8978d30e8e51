import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import avro from 'avsc';
import type { FastifyInstance, InjectOptions } from 'fastify';
import { buildApp } from '../../src/app.js';
import { loadConfig, type Config } from '../../src/config.js';
import { openStore } from '../../src/store/open-store.js';
import type { ReportRow, Store } from '../../src/store/store.js';
import { TABLE_NAMES } from '../../src/tables.js';
import { BACKENDS, type Backend, type TestDatabase } from '../helpers/backends.js';
import { historical } from '../helpers/http.js';

/**
 * SQLite on a file: exports then run on the reader connection (one statement, one snapshot);
 * the shared `sqlite` backend is in memory, where they page under the writer lock.
 */
export const sqliteFileBackend: Backend = {
  name: 'sqlite',
  available: true,
  create: async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hr-backup-db-'));
    return { url: `sqlite:${join(dir, 'db.sqlite')}`, drop: async () => rmSync(dir, { recursive: true, force: true }) };
  },
};

/** The backends the backup suites loop over: every shared one, plus SQLite on a file. */
export const BACKUP_BACKENDS: { label: string; backend: Backend }[] = [
  ...BACKENDS.map((backend) => ({ label: backend.name, backend })),
  { label: 'sqlite file', backend: sqliteFileBackend },
];

export interface BackupApp {
  app: FastifyInstance;
  store: Store;
  db: TestDatabase;
  /** This app's BACKUP_DIR (a fresh temporary folder). */
  dir: string;
  close(): Promise<void>;
}

/** The production app on a fresh database of a backend, with a BACKUP_DIR of its own. */
export async function startBackupApp(backend: Backend, overrides: Partial<Config> = {}): Promise<BackupApp> {
  const db = await backend.create();
  const dir = mkdtempSync(join(tmpdir(), 'hr-backups-'));
  const config = loadConfig(
    {},
    { LOG_LEVEL: 'silent', BACKUP_DIR: dir, UPLOAD_MAX_BYTES: 64 * 1024 * 1024, ...overrides, DATABASE_URL: db.url },
  );
  const store = await openStore(config);
  const app = await buildApp(config, { store });
  return {
    app,
    store,
    db,
    dir,
    close: async () => {
      await app.close();
      await store.close();
      await db.drop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export const auth = (key: string | undefined): Record<string, string> => (key === undefined ? {} : { authorization: `Bearer ${key}` });

/** Loads the three historical CSV files through POST /upload (text/csv). */
export async function loadHistorical(app: FastifyInstance, key?: string): Promise<void> {
  for (const table of TABLE_NAMES) {
    const res = await app.inject({
      method: 'POST',
      url: `/upload/${table}`,
      payload: historical(table),
      headers: { 'content-type': 'text/csv', ...auth(key) },
    });
    if (res.statusCode !== 200) throw new Error(`upload ${table}: ${res.statusCode} ${res.body}`);
  }
}

/**
 * Every row of every table and of hire_counts, read with plain SQL (not through the backup
 * code), in a form both backends agree on: datetimes as epoch milliseconds.
 */
export async function dump(store: Store): Promise<Record<string, ReportRow[]>> {
  const out: Record<string, ReportRow[]> = {};
  const instant =
    store.dialect === 'postgres'
      ? '(EXTRACT(EPOCH FROM datetime) * 1000)::int8'
      : 'CAST(ROUND((julianday(datetime) - 2440587.5) * 86400000) AS INTEGER)';
  out.departments = await store.query('SELECT id, department FROM departments ORDER BY id', []);
  out.jobs = await store.query('SELECT id, job FROM jobs ORDER BY id', []);
  out.hired_employees = await store.query(
    `SELECT id, name, datetime AS text, ${instant} AS ms, department_id, job_id FROM hired_employees ORDER BY id`,
    [],
  );
  out.hire_counts = await store.query(
    'SELECT year, quarter, department_id, job_id, hires FROM hire_counts WHERE hires > 0 ORDER BY year, quarter, department_id, job_id',
    [],
  );
  return out;
}

/** Both reports for 2021 and 2022. */
export async function reports(app: FastifyInstance): Promise<unknown[]> {
  const out: unknown[] = [];
  for (const year of [2021, 2022]) {
    out.push((await app.inject(`/metrics/hired-employees?year=${year}`)).json());
    out.push((await app.inject(`/metrics/departments-above-mean?year=${year}`)).json());
  }
  return out;
}

export async function download(app: FastifyInstance, table: string): Promise<Buffer> {
  const res = await app.inject(`/backup/${table}`);
  if (res.statusCode !== 200) throw new Error(`GET /backup/${table}: ${res.statusCode} ${res.body}`);
  return res.rawPayload;
}

export const restore = (app: FastifyInstance, table: string, file: Buffer | undefined, query = '', extra: Partial<InjectOptions> = {}) =>
  app.inject({
    method: 'POST',
    url: `/restore/${table}${query}`,
    ...(file === undefined ? {} : { payload: file, headers: { 'content-type': 'application/octet-stream' } }),
    ...extra,
  });

/** An Avro container file of `records` written by avsc with a schema of the test's choosing. */
export async function avroFile(schema: object, records: object[], codec: 'null' | 'deflate' = 'deflate'): Promise<Buffer> {
  const encoder = new avro.streams.BlockEncoder(schema as avro.schema.AvroSchema, { codec, writeHeader: true } as never);
  const chunks: Buffer[] = [];
  encoder.on('data', (chunk: Buffer) => chunks.push(chunk));
  const done = new Promise((resolve, reject) => encoder.on('end', resolve).on('error', reject));
  for (const record of records) encoder.write(record);
  encoder.end();
  await done;
  return Buffer.concat(chunks);
}
