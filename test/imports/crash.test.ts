/**
 * Import jobs outlive their instance: the built server as real processes, killed with SIGKILL or
 * stopped with SIGTERM mid-import. SQLite: the next start finishes the job. PostgreSQL: with two
 * instances on one database, the other one does, exactly once.
 */
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { employeesStream } from '../helpers/generate.js';
import { postgresBackend } from '../helpers/postgres.js';
import { startServerProcess, type ServerProcess } from '../helpers/server-process.js';
import { sqliteFile } from '../faults/support/app.js';
import { waitFor } from '../faults/support/http.js';

const ROWS = 400_000;
/** Short leases, so a dead instance's job is taken up again within seconds. */
const LEASE = { IMPORT_LEASE_MS: '1500' };

interface Job {
  import_id: string;
  status: string;
  records: number;
  attempts: number;
  upload_id: string | null;
  inserted?: number;
  received?: number;
}

const json = async <T>(url: string, init?: RequestInit): Promise<T> => (await fetch(url, init)).json() as Promise<T>;
const getJob = (server: ServerProcess, id: string): Promise<Job> => json<Job>(`${server.url}/imports/${id}`);
const queue = async (server: ServerProcess): Promise<string> => {
  const res = await fetch(`${server.url}/imports`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ table: 'hired_employees', source: 'file:hired_employees.csv', batch_size: 5000 }),
  });
  expect(res.status).toBe(202);
  return ((await res.json()) as Job).import_id;
};
const rows = async (server: ServerProcess): Promise<number> =>
  (await json<{ tables: { name: string; rows: number }[] }>(`${server.url}/tables`)).tables.find((t) => t.name === 'hired_employees')!.rows;
/** Waits until the job has parsed some records: it runs, well before its end. */
const running = (server: ServerProcess, id: string): Promise<number> =>
  waitFor(async () => {
    const job = await getJob(server, id);
    return job.status === 'running' && job.records > 0;
  }, 60_000);
const ended = async (server: ServerProcess, id: string): Promise<Job> => {
  await waitFor(async () => ['committed', 'failed', 'cancelled'].includes((await getJob(server, id)).status), 120_000, 100);
  return getJob(server, id);
};

describe('import jobs across process deaths', () => {
  let dir: string;
  const servers: ServerProcess[] = [];
  const start = async (env: Record<string, string>): Promise<ServerProcess> => {
    const server = await startServerProcess({ IMPORT_DIR: dir, ...LEASE, ...env });
    servers.push(server);
    return server;
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'import-crash-'));
    await pipeline(employeesStream(ROWS), createWriteStream(join(dir, 'hired_employees.csv')));
  });
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.stop('SIGKILL')));
    rmSync(dir, { recursive: true, force: true });
  });

  it('SQLite: killed with SIGKILL mid-import, the next start takes the job up and commits it once', async () => {
    const db = await sqliteFile();
    try {
      const first = await start({ DATABASE_URL: db.url });
      const id = await queue(first);
      await running(first, id);
      expect(await first.stop('SIGKILL')).toBeNull();

      const second = await start({ DATABASE_URL: db.url });
      // Nothing of the dead attempt is in: its transaction died with the process.
      expect(await rows(second)).toBe(0);
      const job = await ended(second, id);
      expect(job).toMatchObject({ status: 'committed', attempts: 2, received: ROWS, inserted: ROWS });
      expect(await rows(second)).toBe(ROWS);
      await second.stop();
    } finally {
      await db.drop();
    }
  });

  it('SQLite: SIGTERM rolls the running job back and leaves it queued; the next start runs it', async () => {
    const db = await sqliteFile();
    try {
      const first = await start({ DATABASE_URL: db.url });
      const id = await queue(first);
      await running(first, id);
      expect(await first.stop('SIGTERM')).toBe(0);
      expect(first.output()).toMatch(/rolled back for shutdown: queued for the next instance/);

      const second = await start({ DATABASE_URL: db.url, IMPORT_CONCURRENCY: '0' });
      expect(await getJob(second, id)).toMatchObject({ status: 'queued', attempts: 1 });
      expect(await rows(second)).toBe(0);
      await second.stop();
      const third = await start({ DATABASE_URL: db.url });
      expect(await ended(third, id)).toMatchObject({ status: 'committed', attempts: 2, inserted: ROWS });
      await third.stop();
    } finally {
      await db.drop();
    }
  });

  describe.skipIf(!postgresBackend.available)('PostgreSQL, two instances on one database', () => {
    it('the instance running the import is killed; the other takes it up and commits it exactly once', async () => {
      const db = await postgresBackend.create();
      try {
        const [a, b] = [await start({ DATABASE_URL: db.url }), await start({ DATABASE_URL: db.url })];
        const id = await queue(a);
        await running(a, id);
        // Whichever instance claimed it (both poll) is the one to kill.
        const owner = [a, b].find((s) => s.output().includes('"msg":"import started"'))!;
        const other = owner === a ? b : a;
        expect(await owner.stop('SIGKILL')).toBeNull();

        const job = await ended(other, id);
        expect(job).toMatchObject({ status: 'committed', attempts: 2, received: ROWS, inserted: ROWS });
        expect(await rows(other)).toBe(ROWS);
        expect(other.output()).toMatch(/"msg":"import started"/);
        // Exactly once: one committed upload of the table, the job's.
        const uploads = await json<{ status: string }>(`${other.url}/uploads/${job.upload_id}`);
        expect(uploads.status).toBe('committed');
        await other.stop();
      } finally {
        await db.drop();
      }
    });
  });
});
