import { connect } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { listen } from '../helpers/app.js';
import { BACKENDS, type TestDatabase } from '../helpers/backends.js';
import { openUpload, sendAndLeave } from './support.js';

/** Small, so the test sees the deadline; the production default is 30 s. */
const QUEUE_MS = 1000;

/** Sends a whole text/csv upload on a raw socket, then leaves before any answer. */
async function uploadAndLeave(baseUrl: string, path: string, csv: string): Promise<void> {
  const { hostname, port } = new URL(baseUrl);
  const socket = connect({ host: hostname, port: Number(port) });
  socket.on('error', () => undefined);
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  socket.write(
    `POST ${path} HTTP/1.1\r\nHost: ${hostname}\r\nContent-Type: text/csv\r\nContent-Length: ${Buffer.byteLength(csv)}\r\n\r\n${csv}`,
  );
  await new Promise((resolve) => setTimeout(resolve, 300));
  socket.destroy();
}

const hire = (id: number) => ({ id, name: `Hire ${id}`, datetime: '2022-03-01T00:00:00Z', department_id: 2, job_id: 2 });

for (const backend of BACKENDS) {
  describe.skipIf(!backend.available)(`writes that cannot start [${backend.name}]`, () => {
    let app: FastifyInstance;
    let db: TestDatabase;
    let url: string;
    let nextLine = 1;

    beforeAll(async () => {
      db = await backend.create();
      app = await buildApp(loadConfig({}, { LOG_LEVEL: 'silent', DATABASE_URL: db.url, WRITE_QUEUE_TIMEOUT_MS: QUEUE_MS }));
      url = await listen(app);
    });
    afterAll(async () => {
      await app?.close();
      await db?.drop();
    });

    const storedIds = async (): Promise<number[]> =>
      (await app.store.query('SELECT id FROM hired_employees ORDER BY id', [])).map((r) => Number(r.id));

    /** An upload of one row that holds the table's writer turn until `finish`. */
    const holdWriter = async () => {
      const id = nextLine++;
      const upload = await openUpload(url, '/upload/hired_employees', `${id},Held,2021-01-01T00:00:00Z,1,1\n`);
      // The upload has its turn once its first row is in its transaction; a batch meanwhile waits.
      await new Promise((resolve) => setTimeout(resolve, 300));
      return upload;
    };

    it('a batch waiting longer than WRITE_QUEUE_TIMEOUT_MS answers 503 BUSY with Retry-After, having written nothing', async () => {
      const upload = await holdWriter();
      const res = await app.inject({ method: 'POST', url: '/batch/hired_employees', payload: [hire(100)] });
      expect(res.statusCode).toBe(503);
      expect(res.json()).toMatchObject({ error: 'BUSY' });
      expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
      expect((await upload.finish('')).status).toBe(200);
      expect(await storedIds()).not.toContain(100);
    });

    it('a batch whose client went away before its turn is never committed', async () => {
      const upload = await holdWriter();
      await sendAndLeave(url, 'POST', '/batch/hired_employees', [hire(200)]);
      expect((await upload.finish('')).status).toBe(200);
      // Once the writer is free, a batch of the same client that stayed goes through, the other does not.
      expect((await app.inject({ method: 'POST', url: '/batch/hired_employees', payload: [hire(201)] })).statusCode).toBe(201);
      const ids = await storedIds();
      expect(ids).toContain(201);
      expect(ids).not.toContain(200);
    });

    it('an upload and a reset whose clients went away before their turn never run', async () => {
      const upload = await holdWriter();
      await uploadAndLeave(url, '/upload/hired_employees', `${hire(300).id},Gone,2021-01-01T00:00:00Z,1,1\n`);
      await sendAndLeave(url, 'POST', '/reset-db', {});
      expect((await upload.finish('')).status).toBe(200);
      // Both waited behind the held upload and were dropped there: the rows are as they were.
      const ids = await storedIds();
      expect(ids).not.toContain(300);
      expect(ids).toContain(201);
      expect(ids.length).toBeGreaterThan(0);
    });
  });
}
