import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { generateCsv } from '../../src/cli/gen/lines.js';
import { encodeBackup } from '../../src/backup/encode.js';
import { loadConfig } from '../../src/config.js';
import { SECONDARY_INDEXES } from '../../src/store/ddl.js';
import { TABLES, type Row } from '../../src/tables.js';
import type { Backend, TestDatabase } from '../helpers/backends.js';
import { postgresBackend } from '../helpers/postgres.js';
import { sqliteFileBackend } from '../backup/setup.js';
import { sleep } from './support.js';

const ROWS = 250_000;
/** Generous (the target is ~100 ms; the machine is shared), yet under what one synchronous DELETE of these rows took (1.1 s at 200k). */
const MAX_LATENCY_MS = 500;

const RECOUNT_SQLITE = `SELECT CAST(substr(datetime, 1, 4) AS INTEGER) AS year, (CAST(substr(datetime, 6, 2) AS INTEGER) + 2) / 3 AS quarter,
    department_id, COALESCE(job_id, 0) AS job_id, COUNT(*) AS hires
  FROM hired_employees WHERE datetime IS NOT NULL AND department_id IS NOT NULL GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4`;
const RECOUNT_POSTGRES = `SELECT EXTRACT(YEAR FROM datetime AT TIME ZONE 'UTC')::int AS year,
    EXTRACT(QUARTER FROM datetime AT TIME ZONE 'UTC')::int AS quarter, department_id::float8 AS department_id,
    COALESCE(job_id, 0)::float8 AS job_id, COUNT(*)::int AS hires
  FROM hired_employees WHERE datetime IS NOT NULL AND department_id IS NOT NULL GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4`;
const MAINTAINED_SQLITE = 'SELECT year, quarter, department_id, job_id, hires FROM hire_counts WHERE hires <> 0 ORDER BY 1, 2, 3, 4';
const MAINTAINED_POSTGRES =
  'SELECT year, quarter, department_id::float8 AS department_id, job_id::float8 AS job_id, hires::int AS hires FROM hire_counts WHERE hires <> 0 ORDER BY 1, 2, 3, 4';
const INDEXES_SQLITE =
  "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'hired_employees' AND sql IS NOT NULL ORDER BY 1";
const INDEXES_POSTGRES =
  "SELECT indexname AS name FROM pg_indexes WHERE tablename = 'hired_employees' AND schemaname = current_schema() ORDER BY 1";

// hired_employees has no secondary index since migration 008; a replace must keep a declared one
// (SQLite drops and rebuilds it around the emptying), so this file declares the three it once had.
const declared = SECONDARY_INDEXES.hired_employees as (readonly string[])[];
declared.push(['datetime'], ['department_id'], ['job_id']);
afterAll(() => {
  declared.length = 0;
});

const BACKENDS: { label: string; backend: Backend }[] = [
  { label: 'sqlite file', backend: sqliteFileBackend },
  { label: 'postgres', backend: postgresBackend },
];

for (const { label, backend } of BACKENDS) {
  describe.skipIf(!backend.available)(`restore and reset of ${ROWS} rows beside a /health loop [${label}]`, () => {
    let app: FastifyInstance;
    let db: TestDatabase;
    let backup: Buffer;
    let indexes: unknown[];
    const pg = backend.name === 'postgres';

    beforeAll(async () => {
      db = await backend.create();
      app = await buildApp(loadConfig({}, { LOG_LEVEL: 'silent', DATABASE_URL: db.url, UPLOAD_MAX_BYTES: 256 * 1024 * 1024 }));
      const csv = [...generateCsv({ table: 'hired_employees', rows: ROWS, seed: 12 })].join('');
      const upload = await app.inject({
        method: 'POST',
        url: '/upload/hired_employees',
        payload: csv,
        headers: { 'content-type': 'text/csv' },
      });
      expect(upload.json()).toMatchObject({ status: 'committed', inserted: ROWS });
      backup = (await app.inject('/backup/hired_employees')).rawPayload;
      indexes = await app.store.query(pg ? INDEXES_POSTGRES : INDEXES_SQLITE, []);
      expect(indexes.length).toBeGreaterThan(0);
    });
    afterAll(async () => {
      await app?.close();
      await db?.drop();
    });

    /** Runs `work` while /health is asked every 50 ms; every answer 200; returns the latencies, sorted. */
    async function besideHealthLoop(work: () => Promise<void>): Promise<number[]> {
      let done = false;
      const latencies: number[] = [];
      const loop = (async () => {
        while (!done) {
          const started = performance.now();
          const res = await app.inject('/health');
          latencies.push(performance.now() - started);
          expect(res.statusCode).toBe(200);
          await sleep(50);
        }
      })();
      try {
        await work();
      } finally {
        done = true;
        await loop;
      }
      return latencies.sort((a, b) => a - b);
    }

    const report = (what: string, latencies: number[]): void => {
      const p99 = latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * 0.99))]!;
      console.log(
        `[${label}] /health during ${what}: ${latencies.length} answers, p99 ${p99.toFixed(1)} ms, max ${latencies.at(-1)!.toFixed(1)} ms`,
      );
    };

    it('POST /restore?mode=replace over the full table: the event loop keeps answering, hire counts equal a recount, indexes back', async () => {
      const latencies = await besideHealthLoop(async () => {
        const res = await app.inject({
          method: 'POST',
          url: '/restore/hired_employees?mode=replace',
          payload: backup,
          headers: { 'content-type': 'application/octet-stream' },
        });
        expect(res.json()).toMatchObject({ restored: ROWS });
      });
      report('a restore', latencies);
      expect(latencies.at(-1)!).toBeLessThan(MAX_LATENCY_MS);
      const recount = await app.store.query(pg ? RECOUNT_POSTGRES : RECOUNT_SQLITE, []);
      expect(recount.length).toBeGreaterThan(0);
      expect(await app.store.query(pg ? MAINTAINED_POSTGRES : MAINTAINED_SQLITE, [])).toEqual(recount);
      expect(await app.store.query(pg ? INDEXES_POSTGRES : INDEXES_SQLITE, [])).toEqual(indexes);
      expect((await app.inject('/backup/hired_employees')).rawPayload.length).toBeGreaterThan(0);
    });

    it('a replace whose file holds an id twice (past the first statements) restores nothing: table, counts and indexes kept', async () => {
      const before = await app.store.query(pg ? MAINTAINED_POSTGRES : MAINTAINED_SQLITE, []);
      async function* repeatedRow(): AsyncIterable<readonly Row[]> {
        let first: Row | undefined;
        for await (const page of app.store.exportRows(TABLES.hired_employees)) {
          first ??= page[0];
          yield page;
        }
        yield [first!];
      }
      const chunks: Buffer[] = [];
      for await (const chunk of encodeBackup(TABLES.hired_employees, repeatedRow())) chunks.push(chunk as Buffer);
      const res = await app.inject({
        method: 'POST',
        url: '/restore/hired_employees?mode=replace',
        payload: Buffer.concat(chunks),
        headers: { 'content-type': 'application/octet-stream' },
      });
      expect(res.statusCode).toBe(400);
      expect(res.json()).toMatchObject({ error: 'BACKUP_INVALID' });
      if (!pg) expect(res.json()).toMatchObject({ details: { record: ROWS + 1, field: 'id' } });
      const tables = (await app.inject('/tables')).json<{ tables: { name: string; rows: number }[] }>().tables;
      expect(tables.find((t) => t.name === 'hired_employees')!.rows).toBe(ROWS);
      expect(await app.store.query(pg ? MAINTAINED_POSTGRES : MAINTAINED_SQLITE, [])).toEqual(before);
      expect(await app.store.query(pg ? INDEXES_POSTGRES : INDEXES_SQLITE, [])).toEqual(indexes);
    });

    it('POST /reset-db of the full table: the event loop keeps answering; everything is empty after', async () => {
      // The count triggers the replace above set aside for its transaction are back: a batch is counted.
      const batch = await app.inject({
        method: 'POST',
        url: '/batch/hired_employees',
        payload: [{ id: ROWS + 10, name: 'After Restore', datetime: '2021-05-05T10:00:00Z', department_id: 1, job_id: 1 }],
      });
      expect(batch.statusCode, batch.body).toBe(201);
      expect(await app.store.query(pg ? MAINTAINED_POSTGRES : MAINTAINED_SQLITE, [])).toEqual(
        await app.store.query(pg ? RECOUNT_POSTGRES : RECOUNT_SQLITE, []),
      );
      const latencies = await besideHealthLoop(async () => {
        expect((await app.inject({ method: 'POST', url: '/reset-db' })).statusCode).toBe(200);
      });
      report('a reset', latencies);
      expect(latencies.at(-1)!).toBeLessThan(MAX_LATENCY_MS);
      const tables = (await app.inject('/tables')).json<{ tables: { rows: number }[] }>().tables;
      expect(tables.every((t) => t.rows === 0)).toBe(true);
      expect(await app.store.query('SELECT count(*) AS n FROM hire_counts WHERE hires <> 0', [])).toEqual([{ n: 0 }]);
      expect(await app.store.query(pg ? INDEXES_POSTGRES : INDEXES_SQLITE, [])).toEqual(indexes);
    });
  });
}
