import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import { employeesStream } from '../helpers/generate.js';
import { listen } from '../helpers/app.js';
import { multipart } from '../helpers/http.js';
import { startBackupApp, BACKUP_BACKENDS, type BackupApp } from './setup.js';

const ROWS = 100_000;

const until = async (check: () => boolean, ms = 5000): Promise<boolean> => {
  for (const deadline = Date.now() + ms; Date.now() < deadline; await new Promise((r) => setTimeout(r, 20))) if (check()) return true;
  return check();
};

for (const { label, backend } of BACKUP_BACKENDS) {
  describe.skipIf(!backend.available)(`a download abandoned midway [${label}]`, () => {
    let t: BackupApp;
    let url: string;
    beforeAll(async () => {
      t = await startBackupApp(backend);
      url = await listen(t.app);
      const body = await new Promise<string>((resolve, reject) => {
        const req = request(`${url}/upload/hired_employees`, { method: 'POST', headers: { 'content-type': 'text/csv' } }, (res) => {
          let text = '';
          res.on('data', (d: Buffer) => (text += d.toString()));
          res.on('end', () => resolve(text));
        });
        req.on('error', reject);
        employeesStream(ROWS).pipe(req);
      });
      expect(JSON.parse(body)).toMatchObject({ inserted: ROWS });
    });
    afterAll(() => t?.close());

    it('releases its cursor and connection: writes and a whole backup go on', async () => {
      await new Promise<void>((resolve, reject) => {
        const req = request(`${url}/backup/hired_employees`, (res) => {
          expect(res.statusCode).toBe(200);
          // Take one chunk, then go away while the server still has most of the table to send.
          res.once('data', () => {
            req.destroy();
            resolve();
          });
        });
        req.on('error', (error: NodeJS.ErrnoException) => (error.code === 'ECONNRESET' ? undefined : reject(error)));
        req.end();
      });
      if (backend.name === 'postgres') {
        const pool = (t.store as PostgresStore).pool;
        expect(await until(() => pool.idleCount === pool.totalCount)).toBe(true);
      }
      const reset = await t.app.inject({ method: 'POST', url: '/reset-db' });
      expect(reset.statusCode).toBe(200);
      const empty = await t.app.inject('/backup/hired_employees');
      expect(empty.statusCode).toBe(200);
    });
  });
}

describe('a refused restore over a real socket', () => {
  let t: BackupApp;
  let url: string;
  beforeAll(async () => {
    t = await startBackupApp(BACKUP_BACKENDS[0]!.backend);
    url = await listen(t.app);
  });
  afterAll(() => t?.close());

  const post = (path: string, body: Buffer, contentType: string) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(`${url}${path}`, { method: 'POST', headers: { 'content-type': contentType } }, (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode!, body: text }));
      });
      req.on('error', reject);
      req.end(body);
    });

  it('answers its 400 before closing, whether the body is raw or multipart', async () => {
    await t.app.inject({ method: 'POST', url: '/upload/jobs', payload: '1,Clerk\n', headers: { 'content-type': 'text/csv' } });
    const jobs = (await t.app.inject('/backup/jobs')).rawPayload;
    const raw = await post('/restore/departments', jobs, 'application/octet-stream');
    expect(raw.status).toBe(400);
    expect(JSON.parse(raw.body)).toMatchObject({ error: 'SCHEMA_MISMATCH' });
    const form = multipart(Buffer.concat([jobs, Buffer.alloc(256 * 1024)]));
    const viaForm = await post('/restore/departments', form.payload, form.headers['content-type']);
    expect(viaForm.status).toBe(400);
    expect(JSON.parse(viaForm.body)).toMatchObject({ error: 'SCHEMA_MISMATCH' });
    const garbage = await post('/restore/departments', Buffer.alloc(512 * 1024, 'x'), 'avro/binary');
    expect(garbage.status).toBe(400);
    expect(JSON.parse(garbage.body)).toMatchObject({ error: 'BACKUP_INVALID' });
  });
});
