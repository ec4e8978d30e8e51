import { request as httpRequest } from 'node:http';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { sqliteFile } from '../faults/support/app.js';
import { postgresBackend } from '../helpers/postgres.js';
import { startServerProcess, type ServerProcess } from '../helpers/server-process.js';

const KEY = 'sk-idem-proc-5e1d';
const headers = (idempotencyKey: string, type = 'application/json') => ({
  authorization: `Bearer ${KEY}`,
  'content-type': type,
  'idempotency-key': idempotencyKey,
});

async function post(server: ServerProcess, path: string, body: string, key: string, type?: string) {
  const res = await fetch(`${server.url}${path}`, { method: 'POST', headers: headers(key, type), body });
  return { status: res.status, body: await res.text(), replayed: res.headers.get('idempotent-replayed') };
}

const BATCH = JSON.stringify([
  { id: 7001, job: 'Farrier' },
  { id: 7002, job: 'Chandler' },
]);

describe('Idempotency-Key across a restart (SQLite file)', () => {
  const servers: ServerProcess[] = [];
  let drop: (() => Promise<void>) | undefined;
  afterAll(async () => {
    for (const s of servers) await s.stop();
    await drop?.();
  });

  it('replays the answers of a batch and an upload made before the server restarted, writing nothing again', async () => {
    const db = await sqliteFile();
    drop = db.drop;
    const env = { DATABASE_URL: db.url, API_KEY: KEY, LOG_LEVEL: 'info' };
    const first = await startServerProcess(env);
    servers.push(first);
    const batch = await post(first, '/batch/jobs', BATCH, 'restart-batch');
    expect(batch.status, batch.body).toBe(201);
    const upload = await post(first, '/upload/departments', '1,Ops\n2,Legal\n', 'restart-upload', 'text/csv');
    expect(upload.status, upload.body).toBe(200);
    expect(await first.stop()).toBe(0);

    const second = await startServerProcess(env);
    servers.push(second);
    const batchAgain = await post(second, '/batch/jobs', BATCH, 'restart-batch');
    expect(batchAgain).toEqual({ ...batch, replayed: 'true' });
    const uploadAgain = await post(second, '/upload/departments', '1,Ops\n2,Legal\n', 'restart-upload', 'text/csv');
    expect(uploadAgain).toEqual({ ...upload, replayed: 'true' });
    await second.stop();

    const file = new Database(db.path, { readonly: true });
    try {
      expect(file.prepare('SELECT count(*) FROM jobs').pluck().get()).toBe(2);
      expect(file.prepare('SELECT count(*) FROM departments').pluck().get()).toBe(2);
    } finally {
      file.close();
    }
  });
});

describe.skipIf(!postgresBackend.available)('Idempotency-Key across two server processes on one PostgreSQL schema', () => {
  const servers: ServerProcess[] = [];
  let drop: (() => Promise<void>) | undefined;
  let client: pg.Client | undefined;
  afterAll(async () => {
    for (const s of servers) await s.stop();
    await client?.end();
    await drop?.();
  });

  it('answers a repeat sent to the other instance from the stored answer, and 409 while the first still runs there', async () => {
    const db = await postgresBackend.create();
    drop = db.drop;
    const env = { DATABASE_URL: db.url, API_KEY: KEY, LOG_LEVEL: 'info' };
    const [a, b] = await Promise.all([startServerProcess(env), startServerProcess(env)]);
    servers.push(a!, b!);
    client = new pg.Client({ connectionString: db.url });
    await client.connect();
    const count = async (table: string) => Number((await client!.query(`SELECT count(*) AS n FROM ${table}`)).rows[0].n);

    const first = await post(a!, '/batch/jobs', BATCH, 'two-instances');
    expect(first.status, first.body).toBe(201);
    const again = await post(b!, '/batch/jobs', BATCH, 'two-instances');
    expect(again).toEqual({ ...first, replayed: 'true' });
    const other = await post(b!, '/batch/jobs', BATCH.replace('7002', '7003'), 'two-instances');
    expect(other.status).toBe(422);
    expect(await count('jobs')).toBe(2);

    // An upload held open on instance a; its repeat on instance b.
    const slow = httpRequest(`${a!.url}/upload/departments`, {
      method: 'POST',
      headers: { ...headers('slow-upload', 'text/csv'), 'transfer-encoding': 'chunked' },
    });
    const answer = new Promise<{ status: number; body: string }>((resolve, reject) => {
      slow.on('response', (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode!, body }));
      });
      slow.on('error', reject);
    });
    slow.write('1,Ops\n');
    for (let i = 0; i < 500; i++) {
      const held = await client.query(`SELECT status FROM idempotency_keys WHERE key = 'slow-upload'`);
      if (held.rows[0]?.status === 'in_progress') break;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const running = await fetch(`${b!.url}/upload/departments`, {
      method: 'POST',
      headers: headers('slow-upload', 'text/csv'),
      body: '1,Ops\n2,Legal\n',
    });
    expect(running.status).toBe(409);
    expect(((await running.json()) as { error: string }).error).toBe('IDEMPOTENCY_IN_PROGRESS');
    expect(Number(running.headers.get('retry-after'))).toBeGreaterThan(0);
    slow.end('2,Legal\n');
    const done = await answer;
    expect(done.status, done.body).toBe(200);
    const replay = await post(b!, '/upload/departments', '1,Ops\n2,Legal\n', 'slow-upload', 'text/csv');
    expect(replay).toEqual({ ...done, replayed: 'true' });
    expect(await count('departments')).toBe(2);
  });
});
