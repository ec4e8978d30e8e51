import { readdirSync } from 'node:fs';
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { AppError } from '../../src/errors.js';
import { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import { TABLES } from '../../src/tables.js';
import { startApp, type TestApp } from '../helpers/app.js';
import type { TestDatabase } from '../helpers/backends.js';
import { adminQuery, postgresBackend } from '../helpers/postgres.js';

const csv = (text: string) => ({ payload: text, headers: { 'content-type': 'text/csv' } });
const rows = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => `${from + i},Job ${from + i}\n`).join('');

describe.skipIf(!postgresBackend.available)('PostgresStore', () => {
  describe('on a schema of its own', () => {
    let db: TestDatabase;
    const stores: PostgresStore[] = [];
    const open = (url = db.url, poolMax = 4) => {
      const store = new PostgresStore({ connectionString: url, poolMax });
      stores.push(store);
      return store;
    };
    beforeAll(async () => {
      db = await postgresBackend.create();
    });
    afterAll(async () => {
      await Promise.all(stores.map((s) => s.close()));
      await db.drop();
    });

    it('works in the schema its URL selects through the `options` startup parameter', async () => {
      const store = open();
      const [row] = await store.query('SELECT current_schema() AS schema', []);
      expect(row!.schema).toBe(new URL(db.url).searchParams.get('options')!.split('=')[1]);
    });

    it('migrates once when three instances start at the same time, and again is a no-op', async () => {
      await Promise.all([open().migrate(), open().migrate(), open().migrate()]);
      const store = open();
      await store.migrate();
      const applied = await store.query('SELECT version FROM schema_migrations ORDER BY version', []);
      // Every migration file of the dialect, by its number (read from the folder, not from the code).
      const versions = readdirSync(new URL('../../src/store/postgres/migrations/', import.meta.url))
        .filter((f) => f.endsWith('.sql'))
        .map((f) => ({ version: Number(f.slice(0, 3)) }))
        .sort((a, b) => a.version - b.version);
      expect(versions.length).toBeGreaterThanOrEqual(6);
      expect(applied).toEqual(versions);
      expect(await store.countRows()).toEqual([
        { name: 'departments', rows: 0 },
        { name: 'jobs', rows: 0 },
        { name: 'hired_employees', rows: 0 },
      ]);
    });

    it('stages in pg_temp, so the session works whatever the search path, and drops it at the end', async () => {
      const store = open();
      const session = await store.openLoad(TABLES.jobs, { onConflict: 'reject', checkReferences: false });
      await session.write([{ line: 1, raw: '1,a\tb\\c', values: [1, 'a\tb\\c'], incomplete: false }]);
      expect(await session.finish()).toEqual({ inserted: 1, updated: 0, incomplete: 0, rejected: [] });
      await session.rollback();
      await session.rollback();
      expect((await store.countRows())[1]).toEqual({ name: 'jobs', rows: 0 });
      const temp = await store.query("SELECT count(*)::int AS n FROM pg_class WHERE relname = 'load_stage'", []);
      expect(temp).toEqual([{ n: 0 }]);
      // Every connection went back to the pool, none is stuck in a transaction.
      expect(store.pool.totalCount).toBe(store.pool.idleCount);
    });
    it('keeps connections for reads while uploads wait for theirs', async () => {
      const store = open(db.url, 3);
      await store.migrate();
      const first = await store.openLoad(TABLES.jobs, { onConflict: 'reject', checkReferences: false });
      let secondOpened = false;
      const second = store.openLoad(TABLES.jobs, { onConflict: 'reject', checkReferences: false }).then((s) => {
        secondOpened = true;
        return s;
      });
      // A pool of 3 gives uploads one connection: the second waits, reads do not.
      await Promise.all([store.ping(), store.countRows(), store.ping(), store.countRows()]);
      expect(secondOpened).toBe(false);
      await first.rollback();
      await (await second).rollback();
      expect(secondOpened).toBe(true);
      expect(store.pool.totalCount).toBe(store.pool.idleCount);
    });
  });

  describe('when the database is unreachable', () => {
    it('answers ping with DATABASE_UNAVAILABLE (503, Retry-After) instead of crashing', async () => {
      const store = new PostgresStore({ connectionString: 'postgres://postgres@127.0.0.1:1/test', poolMax: 2 });
      try {
        const error = await store.ping().then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(error).toBeInstanceOf(AppError);
        expect(error).toMatchObject({ code: 'DATABASE_UNAVAILABLE', statusCode: 503 });
        expect((error as AppError).retryAfter).toBeGreaterThan(0);
      } finally {
        await store.close();
      }
    });
  });

  describe('in the app', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await startApp(postgresBackend);
    });
    afterAll(() => t.close());
    const store = () => t.app.store as PostgresStore;

    it('answers 503 with Retry-After when its connection is killed mid-upload, and the next request succeeds', async () => {
      // Its own app, whose connections are named after its schema so the test can find them.
      const db = await postgresBackend.create();
      const url = new URL(db.url);
      const name = url.searchParams.get('options')!.split('=')[1]!;
      url.searchParams.set('application_name', name);
      const app = await buildApp(loadConfig({}, { LOG_LEVEL: 'silent', DATABASE_URL: url.toString() }));
      try {
        const base = await app.listen({ port: 0, host: '127.0.0.1' });
        const req = request(`${base}/upload/jobs?batch_size=100`, { method: 'POST', headers: { 'content-type': 'text/csv' } });
        const answer = new Promise<{ status: number; headers: Record<string, unknown>; body: string }>((resolve, reject) => {
          req.on('response', (res) => {
            let text = '';
            res.setEncoding('utf8');
            res.on('data', (d: string) => (text += d));
            res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: text }));
          });
          req.on('error', reject);
        });
        req.write(rows(1, 500));
        // The upload's connection, waiting for the rest of the body: in its COPY, which stays open
        // while rows come, or idle in its transaction between statements.
        let pid: number | undefined;
        for (let i = 0; i < 200 && pid === undefined; i++) {
          const { rows: found } = await adminQuery(
            `SELECT pid FROM pg_stat_activity WHERE application_name = $1
               AND ((state = 'active' AND query LIKE 'COPY %') OR (state LIKE 'idle in transaction%' AND (query LIKE 'COPY %' OR query LIKE 'SAVEPOINT %')))`,
            [name],
          );
          pid = (found[0] as { pid: number } | undefined)?.pid;
          if (pid === undefined) await new Promise((resolve) => setTimeout(resolve, 25));
        }
        expect(pid, 'the upload session was not found').toBeDefined();
        await adminQuery('SELECT pg_terminate_backend($1)', [pid]);
        req.end(rows(501, 1000));
        const res = await answer;
        expect(res.status).toBe(503);
        expect(res.headers['retry-after']).toBeDefined();
        const failed = JSON.parse(res.body) as { error: string; details: { upload_id: string } };
        expect(failed).toMatchObject({ error: 'DATABASE_UNAVAILABLE' });

        const next = await app.inject({ method: 'POST', url: '/upload/jobs', ...csv(rows(1, 10)) });
        expect(next.statusCode).toBe(200);
        expect(next.json()).toMatchObject({ inserted: 10, rejected: 0 });
        // The failed upload kept nothing but its logged report.
        expect((await app.inject(`/uploads/${failed.details.upload_id}`)).json()).toMatchObject({ status: 'failed', table: 'jobs' });
        expect((await app.inject('/tables')).json().tables[1]).toEqual({ name: 'jobs', rows: 10 });
        expect((await app.inject('/health')).statusCode).toBe(200);

        // Idle pooled connections killed (a server restart): the pool's error handler keeps the
        // process alive, and the pool opens new ones.
        await adminQuery('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [name]);
        await new Promise((resolve) => setTimeout(resolve, 100));
        expect((await app.inject('/health')).statusCode).toBe(200);
        expect((await app.inject('/tables')).statusCode).toBe(200);
      } finally {
        await app.close();
        await db.drop();
      }
    });

    it('serializes concurrent uploads to one table: no deadlock, no 5xx, every id stored once', async () => {
      await t.app.inject({ method: 'POST', url: '/reset-db' });
      const uploads = await Promise.all(
        [rows(1, 3000), rows(2001, 5000), rows(1, 5000), rows(4001, 6000)].map((text) =>
          t.app.inject({ method: 'POST', url: '/upload/jobs?batch_size=250', ...csv(text) }),
        ),
      );
      expect(uploads.map((u) => u.statusCode)).toEqual([200, 200, 200, 200]);
      const reports = uploads.map((u) => u.json() as { inserted: number; rejected: number; received: number });
      expect(reports.reduce((n, r) => n + r.inserted, 0)).toBe(6000);
      for (const r of reports) expect(r.inserted + r.rejected).toBe(r.received);
      expect((await t.app.inject('/tables')).json().tables[1]).toEqual({ name: 'jobs', rows: 6000 });
    });

    it('answers reports while uploads and resets run, and none of them fails', async () => {
      const work = [];
      for (let i = 0; i < 5; i++) {
        work.push(t.app.inject({ method: 'POST', url: '/upload/departments', ...csv(`${i + 1},D${i}\n`) }));
        work.push(t.app.inject('/metrics/hired-employees?year=2021'));
        work.push(t.app.inject('/metrics/departments-above-mean?year=2021'));
        work.push(t.app.inject({ method: 'POST', url: '/reset-db' }));
      }
      const answers = await Promise.all(work);
      expect(answers.filter((a) => a.statusCode >= 500).map((a) => a.body)).toEqual([]);
    });

    it('ends its pool when the app closes', async () => {
      const other = await startApp(postgresBackend);
      const pool = (other.app.store as PostgresStore).pool;
      await other.app.inject('/health');
      expect(pool.totalCount).toBeGreaterThan(0);
      await other.close();
      expect(pool.ended).toBe(true);
      expect(pool.totalCount).toBe(0);
      expect(store().pool.ended).toBe(false);
    });
  });
});
