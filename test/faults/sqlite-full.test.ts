import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { counts, sqliteFile } from './support/app.js';

const employees = (from: number, to: number): string => {
  let text = '';
  for (let id = from; id <= to; id++) text += `${id},Employee number ${id} with a longer name,2021-03-0${1 + (id % 9)}T10:00:00Z,1,1\n`;
  return text;
};

const expectUnavailable = (res: { statusCode: number; headers: Record<string, unknown>; json(): unknown }) => {
  expect(res.statusCode).toBe(503);
  expect(res.headers['retry-after']).toBe('30');
  expect(res.json()).toMatchObject({
    error: 'DATABASE_READ_ONLY',
    message: 'The database cannot be written (read-only or disk full); retry later',
  });
};

describe('SQLite disk full or read-only', () => {
  let app: FastifyInstance;
  let store: SqliteStore;
  let db: Awaited<ReturnType<typeof sqliteFile>>;
  let before: Record<string, number>;
  let report2021: unknown;
  beforeAll(async () => {
    db = await sqliteFile();
    store = new SqliteStore({ path: db.path });
    app = await buildApp(loadConfig({}, { LOG_LEVEL: 'silent', DATABASE_URL: db.url }), { store });
    await app.inject({ method: 'POST', url: '/upload/departments', payload: '1,Engineering\n', headers: { 'content-type': 'text/csv' } });
    await app.inject({ method: 'POST', url: '/upload/jobs', payload: '1,Engineer\n', headers: { 'content-type': 'text/csv' } });
    const first = await app.inject({
      method: 'POST',
      url: '/upload/hired_employees',
      payload: employees(1, 500),
      headers: { 'content-type': 'text/csv' },
    });
    expect(first.json()).toMatchObject({ inserted: 500 });
    before = await counts(app);
    report2021 = (await app.inject('/metrics/hired-employees?year=2021')).json();
  });
  afterAll(async () => {
    await app?.close();
    await store?.close();
    await db?.drop();
  });

  it('answers 503 with a clear message when the disk fills mid-upload, keeps nothing of it, and recovers', async () => {
    // A disk with room for a few more pages only (PRAGMA max_page_count caps this connection's file).
    const pages = store.writer.pragma('page_count', { simple: true }) as number;
    await store.pragmaOnWriters(`max_page_count = ${pages + 8}`);
    try {
      const upload = await app.inject({
        method: 'POST',
        url: '/upload/hired_employees?batch_size=500',
        payload: employees(1001, 30_000),
        headers: { 'content-type': 'text/csv' },
      });
      expectUnavailable(upload);
      const batch = await app.inject({
        method: 'POST',
        url: '/batch/hired_employees',
        payload: [...Array(1000).keys()].map((i) => ({
          id: 100_000 + i,
          name: `A name long enough to need pages ${'x'.repeat(200)}`,
          datetime: '2021-01-01T00:00:00Z',
          department_id: 1,
          job_id: 1,
        })),
      });
      expectUnavailable(batch);
      // Nothing half-written; reads still answer, and the reports match the rows.
      expect(await counts(app)).toEqual(before);
      expect((await app.inject('/metrics/hired-employees?year=2021')).json()).toEqual(report2021);
      expect((await app.inject('/health')).statusCode).toBe(200);
    } finally {
      await store.pragmaOnWriters('max_page_count = 4294967294');
    }
    const again = await app.inject({
      method: 'POST',
      url: '/upload/hired_employees',
      payload: employees(1001, 30_000),
      headers: { 'content-type': 'text/csv' },
    });
    expect(again.json()).toMatchObject({ status: 'committed', inserted: 29_000 });
    expect(store.writer.pragma('integrity_check', { simple: true })).toBe('ok');
    await app.inject({ method: 'POST', url: '/reset-db' });
    await app.inject({ method: 'POST', url: '/upload/departments', payload: '1,Engineering\n', headers: { 'content-type': 'text/csv' } });
    await app.inject({ method: 'POST', url: '/upload/jobs', payload: '1,Engineer\n', headers: { 'content-type': 'text/csv' } });
    await app.inject({
      method: 'POST',
      url: '/upload/hired_employees',
      payload: employees(1, 500),
      headers: { 'content-type': 'text/csv' },
    });
  });

  it('answers 503 when the database has become read-only, writes nothing, and recovers', async () => {
    // The file system turning read-only under the server, as SQLite reports it to the writer.
    await store.pragmaOnWriters('query_only = ON');
    try {
      for (const request of [
        { url: '/upload/hired_employees', payload: employees(2001, 2100), headers: { 'content-type': 'text/csv' } },
        { url: '/batch/departments', payload: [{ id: 7, department: 'Legal' }] },
        { url: '/reset-db' },
      ]) {
        const res = await app.inject({ method: 'POST', ...request });
        expectUnavailable(res);
      }
      expect(await counts(app)).toEqual(before);
    } finally {
      await store.pragmaOnWriters('query_only = OFF');
    }
    expect((await app.inject({ method: 'POST', url: '/batch/departments', payload: [{ id: 7, department: 'Legal' }] })).statusCode).toBe(
      201,
    );
  });
});
