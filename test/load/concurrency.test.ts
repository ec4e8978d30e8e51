import { afterAll, describe, expect, it } from 'vitest';
import { sqliteFile } from '../faults/support/app.js';
import { BACKENDS, type TestDatabase } from '../helpers/backends.js';
import { startServerProcess, type ServerProcess } from '../helpers/server-process.js';

/** Seconds of load per backend (LOAD_SECONDS=30 for the full run). */
const SECONDS = Number(process.env.LOAD_SECONDS ?? 7);
const UPLOADERS = 4;
const BATCH_WRITERS = 8;
const READERS = 32;
/** Rows per upload into department 1, and per batch into department 2: reports must show multiples. */
const N = 300;
const B = 25;
const JOB_ROWS = 40;

interface Tally {
  statuses: Map<number, number>;
  failures: string[];
  inserted: { hired_employees: number; jobs: number };
  reads: number;
  slowestMs: number;
}

const record = (tally: Tally, what: string, status: number, body: string, started: number): void => {
  tally.statuses.set(status, (tally.statuses.get(status) ?? 0) + 1);
  tally.slowestMs = Math.max(tally.slowestMs, performance.now() - started);
  if (status >= 500 || /SQLITE_BUSY|SQLITE_LOCKED/.test(body)) tally.failures.push(`${what} → ${status} ${body.slice(0, 200)}`);
};

const quarterSum = (row: Record<string, number>): number => row.Q1! + row.Q2! + row.Q3! + row.Q4!;

for (const backend of BACKENDS) {
  describe.skipIf(!backend.available)(
    `${UPLOADERS} uploaders, ${BATCH_WRITERS} batch writers, ${READERS} readers for ${SECONDS} s [${backend.name}]`,
    () => {
      let server: ServerProcess | undefined;
      let db: TestDatabase | undefined;
      afterAll(async () => {
        await server?.stop();
        await db?.drop();
      });

      it('no 5xx, no SQLITE_BUSY, final counts equal what succeeded, and no read ever sees half an upload', async () => {
        db = backend.name === 'sqlite' ? await sqliteFile() : await backend.create();
        server = await startServerProcess({ DATABASE_URL: db.url, RATE_LIMIT_WRITES_PER_MINUTE: '1000000' });
        const base = server.url;
        const post = (path: string, body: string, type: string) =>
          fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': type }, body });
        expect((await post('/upload/departments', '1,Uploads\n2,Batches\n3,Idle\n4,Idle too\n', 'text/csv')).status).toBe(200);
        expect((await post('/upload/jobs', '1,Load\n', 'text/csv')).status).toBe(200);

        const tally: Tally = { statuses: new Map(), failures: [], inserted: { hired_employees: 0, jobs: 0 }, reads: 0, slowestMs: 0 };
        const uploadIds: string[] = [];
        const deadline = performance.now() + SECONDS * 1000;
        const running = () => performance.now() < deadline;

        const uploader = async (u: number) => {
          for (let k = 0; running(); k++) {
            const jobs = u === UPLOADERS - 1;
            const lines: string[] = [];
            if (jobs) {
              for (let i = 0; i < JOB_ROWS; i++) lines.push(`${1000 + k * JOB_ROWS + i},Job ${k}.${i}`);
            } else {
              for (let i = 0; i < N; i++) {
                const id = 1_000_000 * (u + 1) + k * N + i;
                lines.push(`${id},Uploaded ${id},2021-${String(1 + (i % 12)).padStart(2, '0')}-15T12:00:00Z,1,1`);
              }
            }
            const started = performance.now();
            const res = await post(`/upload/${jobs ? 'jobs' : 'hired_employees'}?batch_size=100`, lines.join('\n'), 'text/csv');
            const body = await res.text();
            record(tally, 'upload', res.status, body, started);
            if (res.status === 200) {
              const report = JSON.parse(body) as { inserted: number; upload_id: string };
              tally.inserted[jobs ? 'jobs' : 'hired_employees'] += report.inserted;
              expect(report.inserted).toBe(jobs ? JOB_ROWS : N);
              uploadIds.push(report.upload_id);
            }
          }
        };

        const batchWriter = async (w: number) => {
          for (let k = 0; running(); k++) {
            const rows = [...Array(B).keys()].map((i) => ({
              id: 50_000_000 + w * 1_000_000 + k * B + i,
              name: `Batched ${w}.${k}.${i}`,
              datetime: `2021-${String(1 + (i % 12)).padStart(2, '0')}-20T08:00:00Z`,
              department_id: 2,
              job_id: 1,
            }));
            const started = performance.now();
            const res = await post('/batch/hired_employees', JSON.stringify(rows), 'application/json');
            const body = await res.text();
            record(tally, 'batch', res.status, body, started);
            if (res.status === 201) tally.inserted.hired_employees += (JSON.parse(body) as { inserted: number }).inserted;
          }
        };

        const reader = async (r: number) => {
          let lastEmployees = 0;
          for (let k = 0; running(); k++) {
            const kind = (r + k) % 5;
            const path = ['/metrics/hired-employees?year=2021', '/metrics/departments-above-mean?year=2021', '/tables', '/health', ''][
              kind
            ]!;
            const id = uploadIds[uploadIds.length - 1 - (k % 3)];
            const url = path === '' ? (id === undefined ? '/health' : `/uploads/${id}`) : path;
            const started = performance.now();
            const res = await fetch(`${base}${url}`);
            const body = await res.text();
            record(tally, url, res.status, body, started);
            tally.reads++;
            if (res.status !== 200) continue;
            const data = JSON.parse(body) as unknown;
            if (kind === 0) {
              for (const row of data as Record<string, number | string>[]) {
                const sum = quarterSum(row as Record<string, number>);
                if (row.department === 'Uploads') expect(sum % N, 'an upload seen in part').toBe(0);
                if (row.department === 'Batches') expect(sum % B, 'a batch seen in part').toBe(0);
              }
            } else if (kind === 1) {
              for (const row of data as { id: number; hired: number }[]) {
                if (row.id === 1) expect(row.hired % N, 'an upload seen in part').toBe(0);
                if (row.id === 2) expect(row.hired % B, 'a batch seen in part').toBe(0);
              }
            } else if (kind === 2) {
              const tables = Object.fromEntries((data as { tables: { name: string; rows: number }[] }).tables.map((t) => [t.name, t.rows]));
              expect((tables.jobs! - 1) % JOB_ROWS, 'a jobs upload seen in part').toBe(0);
              expect(tables.hired_employees).toBeGreaterThanOrEqual(lastEmployees);
              lastEmployees = tables.hired_employees!;
            } else if (url.startsWith('/uploads/')) {
              expect((data as { status: string }).status).toBe('committed');
            }
          }
        };

        await Promise.all([
          ...[...Array(UPLOADERS).keys()].map(uploader),
          ...[...Array(BATCH_WRITERS).keys()].map(batchWriter),
          ...[...Array(READERS).keys()].map(reader),
        ]);

        console.log(
          `[${backend.name}] ${SECONDS} s: statuses ${JSON.stringify(Object.fromEntries(tally.statuses))}, ` +
            `${tally.inserted.hired_employees} hires and ${tally.inserted.jobs} jobs inserted, ${tally.reads} reads, slowest ${tally.slowestMs.toFixed(0)} ms`,
        );
        expect(tally.failures).toEqual([]);
        expect([...tally.statuses.keys()].sort()).toEqual([200, 201]);
        expect(uploadIds.length).toBeGreaterThan(UPLOADERS);
        expect(tally.reads).toBeGreaterThan(READERS);
        // Never a hang: every request answered well within the run.
        expect(tally.slowestMs).toBeLessThan(30_000);

        const final = (await (await fetch(`${base}/tables`)).json()) as { tables: { name: string; rows: number }[] };
        expect(Object.fromEntries(final.tables.map((t) => [t.name, t.rows]))).toEqual({
          departments: 4,
          jobs: 1 + tally.inserted.jobs,
          hired_employees: tally.inserted.hired_employees,
        });
        const report = (await (await fetch(`${base}/metrics/hired-employees?year=2021`)).json()) as Record<string, number | string>[];
        const total = report.reduce((sum, row) => sum + quarterSum(row as Record<string, number>), 0);
        expect(total).toBe(tally.inserted.hired_employees);
      });
    },
  );
}
