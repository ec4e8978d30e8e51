import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { poolBudget } from '../../src/store/postgres/pool-budget.js';
import { listen } from '../helpers/app.js';
import type { TestDatabase } from '../helpers/backends.js';
import { adminQuery, postgresBackend } from '../helpers/postgres.js';
import { openUpload, sleep } from './support.js';

/** Small, so the test sees the deadline; the production default is 30 s. */
const QUEUE_MS = 1500;
const BATCHES = 20;

describe('poolBudget: the rule the README states', () => {
  it('keeps a quarter of the pool (at least two) for short reads, and a slot for batches beside loads', () => {
    expect(poolBudget(10)).toEqual({ reserved: 3, writes: 7, loads: 6, pages: 2 });
    expect(poolBudget(4)).toEqual({ reserved: 2, writes: 2, loads: 1, pages: 1 });
    expect(poolBudget(2)).toEqual({ reserved: 1, writes: 1, loads: 1, pages: 1 });
    expect(poolBudget(1)).toEqual({ reserved: 0, writes: 1, loads: 1, pages: 1 });
    for (let max = 3; max <= 64; max++) {
      const b = poolBudget(max);
      expect(b.reserved + b.writes).toBe(max);
      expect(b.reserved).toBeGreaterThanOrEqual(2);
      expect(b.pages).toBeLessThan(b.reserved);
    }
  });
});

describe.skipIf(!postgresBackend.available)('an upload holding its table lock, and 20 batches of the same table [postgres]', () => {
  let app: FastifyInstance;
  let db: TestDatabase;
  let url: string;
  let schema: string;

  beforeAll(async () => {
    db = await postgresBackend.create();
    schema = /search_path%3D(\w+)/.exec(db.url)?.[1] ?? '';
    app = await buildApp(loadConfig({}, { LOG_LEVEL: 'silent', DATABASE_URL: db.url, WRITE_QUEUE_TIMEOUT_MS: QUEUE_MS }));
    url = await listen(app);
  });
  afterAll(async () => {
    await app?.close();
    await db?.drop();
  });

  const uploadHoldsItsLock = async (): Promise<boolean> =>
    (
      await adminQuery(
        `SELECT count(*)::int AS n FROM pg_locks l JOIN pg_class c ON c.oid = l.relation JOIN pg_namespace s ON s.oid = c.relnamespace
         WHERE s.nspname = $1 AND c.relname = 'hired_employees' AND l.mode = 'ShareRowExclusiveLock' AND l.granted`,
        [schema],
      )
    ).rows[0].n > 0;

  it('/health answers 200 throughout; every batch answers 503 BUSY with Retry-After within its deadline, having written nothing', async () => {
    const upload = await openUpload(url, '/upload/hired_employees', '1,First,2021-01-01T00:00:00Z,1,1\n');
    while (!(await uploadHoldsItsLock())) await sleep(20);

    const batches = Array.from({ length: BATCHES }, (_v, i) =>
      app.inject({
        method: 'POST',
        url: '/batch/hired_employees',
        payload: [{ id: 1000 + i, name: `Batch ${i}`, datetime: '2022-03-01T00:00:00Z', department_id: 2, job_id: 2 }],
      }),
    );
    let settled = false;
    const all = Promise.all(batches).finally(() => (settled = true));
    const health: number[] = [];
    const latencies: number[] = [];
    while (!settled) {
      const started = performance.now();
      health.push((await app.inject('/health')).statusCode);
      latencies.push(performance.now() - started);
      await sleep(50);
    }
    // Settled while the upload still holds its lock (its body is not finished).
    expect(await uploadHoldsItsLock()).toBe(true);
    const answers = await all;
    for (const res of answers) {
      expect(res.statusCode).toBe(503);
      expect(res.json()).toMatchObject({ error: 'BUSY' });
      expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
    }
    expect(health.length).toBeGreaterThan(0);
    expect(health.every((status) => status === 200)).toBe(true);
    latencies.sort((a, b) => a - b);
    console.log(`/health during the queue: ${health.length} answers, max ${latencies.at(-1)!.toFixed(1)} ms`);

    const done = await upload.finish('2,Second,2021-02-01T00:00:00Z,1,1\n');
    expect(done.status).toBe(200);
    expect(JSON.parse(done.body)).toMatchObject({ status: 'committed', inserted: 2 });
    const tables = (await app.inject('/tables')).json<{ tables: { name: string; rows: number }[] }>().tables;
    expect(tables.find((t) => t.name === 'hired_employees')!.rows).toBe(2);
    // With the lock free, a batch goes through.
    const after = await app.inject({
      method: 'POST',
      url: '/batch/hired_employees',
      payload: [{ id: 5000, name: 'After', datetime: '2022-03-01T00:00:00Z', department_id: 2, job_id: 2 }],
    });
    expect(after.statusCode).toBe(201);
  });
});
