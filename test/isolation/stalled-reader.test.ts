import Database from 'better-sqlite3';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { listen } from '../helpers/app.js';
import type { Backend, TestDatabase } from '../helpers/backends.js';
import { postgresBackend } from '../helpers/postgres.js';
import { sqliteFileBackend } from '../backup/setup.js';
import { bulkyEmployees, isWholeChunkedAnswer, stallOn } from './support.js';

const VALID = 40_000;
const INVALID = 20_000;
/** Small, so the test sees the cut; the production default is 30 s. */
const IDLE_MS = 1500;

const BACKENDS: { label: string; backend: Backend }[] = [
  { label: 'sqlite file', backend: sqliteFileBackend },
  { label: 'postgres', backend: postgresBackend },
];

for (const { label, backend } of BACKENDS) {
  describe.skipIf(!backend.available)(`a client that stops reading a download [${label}]`, () => {
    let app: FastifyInstance;
    let db: TestDatabase;
    let url: string;
    let uploadId: string;
    let nextId = 10_000_000;

    beforeAll(async () => {
      db = await backend.create();
      const config = loadConfig(
        {},
        { LOG_LEVEL: 'silent', DATABASE_URL: db.url, DOWNLOAD_IDLE_TIMEOUT_MS: IDLE_MS, UPLOAD_MAX_BYTES: 128 * 1024 * 1024 },
      );
      app = await buildApp(config);
      url = await listen(app);
      const res = await app.inject({
        method: 'POST',
        url: '/upload/hired_employees',
        payload: bulkyEmployees(VALID, INVALID),
        headers: { 'content-type': 'text/csv' },
      });
      expect(res.statusCode).toBe(200);
      expect(res.json()).toMatchObject({ inserted: VALID, rejected: INVALID });
      uploadId = res.json<{ upload_id: string }>().upload_id;
    });
    afterAll(async () => {
      await app?.close();
      await db?.drop();
    });

    const employees = async (): Promise<number> =>
      (await app.inject('/tables')).json<{ tables: { name: string; rows: number }[] }>().tables.find((t) => t.name === 'hired_employees')!
        .rows;

    /** Commits a batch of one hire in `year`, an upload of one department; both are read back at once. */
    async function commitAndReadBack(): Promise<void> {
      const before = await employees();
      const id = nextId++;
      const year = 2040 + (id % 50);
      const batch = await app.inject({
        method: 'POST',
        url: '/batch/hired_employees',
        payload: [{ id, name: 'Fresh', datetime: `${year}-05-01T00:00:00Z`, department_id: 1, job_id: 1 }],
      });
      expect(batch.statusCode).toBe(201);
      expect(await employees()).toBe(before + 1);
      expect((await app.inject('/metrics/years')).json<{ years: number[] }>().years).toContain(year);
      const upload = await app.inject({
        method: 'POST',
        url: '/upload/departments',
        payload: `${id},Department ${id}\n`,
        headers: { 'content-type': 'text/csv' },
      });
      expect(upload.json()).toMatchObject({ status: 'committed', inserted: 1 });
      const logged = await app.inject(`/uploads/${upload.json<{ upload_id: string }>().upload_id}`);
      expect(logged.statusCode).toBe(200);
    }

    /**
     * SQLite: a checkpoint by another connection copies the whole WAL (no reader holds it back).
     * Tried for up to 2 s: the server's own checkpoint running at the same moment makes a try
     * busy; a stalled reader would make every one of them fall short.
     */
    async function expectWalCheckpointable(): Promise<void> {
      if (backend.name !== 'sqlite') return;
      const file = new Database(db.url.slice('sqlite:'.length), { fileMustExist: true });
      try {
        file.pragma('busy_timeout = 2000');
        let result: { busy: number; log: number; checkpointed: number } | undefined;
        for (let i = 0; i < 40; i++) {
          [result] = file.pragma('wal_checkpoint(PASSIVE)') as { busy: number; log: number; checkpointed: number }[];
          if (result!.busy === 0 && result!.checkpointed === result!.log) break;
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
        expect(result!.busy).toBe(0);
        expect(result!.checkpointed).toBe(result!.log);
      } finally {
        file.close();
      }
    }

    for (const path of ['/backup/hired_employees', 'rejects']) {
      it(`${path}: other requests read every commit, the WAL can be checkpointed, and the stalled socket is cut`, async () => {
        const stalled = await stallOn(url, path === 'rejects' ? `/uploads/${uploadId}/rejects.csv` : path);
        await commitAndReadBack();
        await commitAndReadBack();
        await expectWalCheckpointable();
        // Cut after DOWNLOAD_IDLE_TIMEOUT_MS (waited for generously): reading again, the client gets
        // what was buffered, then the end of a connection closed mid-answer.
        await new Promise((resolve) => setTimeout(resolve, 2 * IDLE_MS + 1000));
        const bytes = await stalled.drain();
        expect(bytes.length).toBeGreaterThan(0);
        expect(isWholeChunkedAnswer(bytes)).toBe(false);
        // What it held is free: reads and writes go on.
        await commitAndReadBack();
        await expectWalCheckpointable();
      });
    }
  });
}
