import { mkdtempSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listen } from '../helpers/app.js';
import { adminQuery, postgresBackend, TEST_DATABASE_URL } from '../helpers/postgres.js';
import { counts, startWrappedApp, type WrappedApp } from './support/app.js';
import { sleep, waitFor } from './support/http.js';
import { tcpProxy, type TcpProxy } from './support/tcp-proxy.js';

const employees = (from: number, to: number): string => {
  let text = '';
  for (let id = from; id <= to; id++) text += `${id},Employee ${id},2021-06-0${1 + (id % 9)}T10:00:00Z,1,1\n`;
  return text;
};

/** A streamed upload that keeps sending until told to stop; resolves with the status, or 0 if the connection was lost. */
function streamingUpload(url: string) {
  let next = 1;
  let stopped = false;
  const req = request(`${url}/upload/hired_employees?batch_size=200`, { method: 'POST', headers: { 'content-type': 'text/csv' } });
  const status = new Promise<{ status: number; body: string; retryAfter?: string }>((resolve) => {
    req.on('response', (res) => {
      stopped = true;
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, retryAfter: res.headers['retry-after'] as string | undefined }));
      res.on('error', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', () => resolve({ status: 0, body: '' }));
  });
  const pump = async () => {
    while (!stopped && next < 2_000_000) {
      if (!req.write(employees(next, next + 199))) await new Promise((resolve) => req.once('drain', resolve));
      next += 200;
      await sleep(2);
    }
  };
  void pump();
  return { status, sent: () => next - 1 };
}

describe.skipIf(!postgresBackend.available)('PostgreSQL going away under the server', () => {
  let proxy: TcpProxy;
  let t: WrappedApp;
  let url: string;
  const tag = `hr-outage-${process.pid}`;
  beforeAll(async () => {
    const target = new URL(TEST_DATABASE_URL);
    proxy = await tcpProxy(target.hostname, Number(target.port || 5432));
    t = await startWrappedApp(
      async () => {
        const db = await postgresBackend.create();
        const proxied = new URL(db.url);
        proxied.host = `127.0.0.1:${proxy.port}`;
        proxied.searchParams.set('application_name', tag);
        return { url: proxied.toString(), drop: db.drop };
      },
      {},
      { BACKUP_DIR: mkdtempSync(join(tmpdir(), 'hr-outage-backups-')) },
    );
    url = await listen(t.app);
    await t.app.inject({ method: 'POST', url: '/upload/departments', payload: '1,Engineering\n', headers: { 'content-type': 'text/csv' } });
    await t.app.inject({ method: 'POST', url: '/upload/jobs', payload: '1,Engineer\n', headers: { 'content-type': 'text/csv' } });
    await t.app.inject({
      method: 'POST',
      url: '/upload/hired_employees',
      payload: employees(1, 100),
      headers: { 'content-type': 'text/csv' },
    });
  });
  afterAll(async () => {
    await proxy?.restore();
    await t?.close();
    await proxy?.close();
  });

  it('answers 503 with Retry-After while the database is down, quickly, and recovers by itself when it is back', async () => {
    const before = await counts(t.app);
    await proxy.cut();
    const started = performance.now();
    for (const request of [
      { method: 'GET' as const, url: '/health' },
      { method: 'GET' as const, url: '/tables' },
      { method: 'GET' as const, url: '/metrics/hired-employees?year=2021' },
      { method: 'POST' as const, url: '/batch/departments', payload: [{ id: 2, department: 'Sales' }] },
      { method: 'POST' as const, url: '/upload/departments', payload: '3,Legal\n', headers: { 'content-type': 'text/csv' } },
      // A backup into BACKUP_DIR: its export's first page finds no connection.
      { method: 'POST' as const, url: '/backup?table=departments' },
    ]) {
      const res = await t.app.inject(request);
      expect(res.statusCode, request.url).toBe(503);
      expect(res.headers['retry-after'], request.url).toBeDefined();
      expect(res.json(), request.url).toMatchObject({ error: 'DATABASE_UNAVAILABLE' });
      expect(res.body).not.toMatch(/ECONNREFUSED|127\.0\.0\.1|postgres/i);
    }
    // Not a hang: five requests answered well within one connection timeout.
    expect(performance.now() - started).toBeLessThan(10_000);

    await proxy.restore();
    const recovered = await waitFor(async () => (await t.app.inject('/health')).statusCode === 200, 15_000, 100);
    console.log(`[postgres] healthy again ${recovered.toFixed(0)} ms after the database came back`);
    expect(await counts(t.app)).toEqual(before);
    expect((await t.app.inject({ method: 'POST', url: '/batch/departments', payload: [{ id: 2, department: 'Sales' }] })).statusCode).toBe(
      201,
    );
  });

  it('rolls back an upload whose connection is cut mid-stream, answering 503 (or closing), and serves again after', async () => {
    const before = await counts(t.app);
    const upload = streamingUpload(url);
    await waitFor(() => upload.sent() > 20_000, 20_000);
    await proxy.cut();
    const answer = await upload.status;
    if (answer.status !== 0) {
      expect(answer.status).toBe(503);
      expect(answer.retryAfter).toBeDefined();
      expect(JSON.parse(answer.body)).toMatchObject({ error: 'DATABASE_UNAVAILABLE' });
    }
    await proxy.restore();
    await waitFor(async () => (await t.app.inject('/health')).statusCode === 200, 15_000, 100);
    expect(await counts(t.app)).toEqual(before);
  });

  it('rolls back an upload whose server connection is terminated (pg_terminate_backend), and serves again after', async () => {
    const before = await counts(t.app);
    const upload = streamingUpload(url);
    await waitFor(() => upload.sent() > 20_000, 20_000);
    const killed = await adminQuery('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [tag]);
    expect(killed.rowCount).toBeGreaterThan(0);
    const answer = await upload.status;
    if (answer.status !== 0) {
      expect(answer.status).toBe(503);
      expect(JSON.parse(answer.body)).toMatchObject({ error: 'DATABASE_UNAVAILABLE' });
    }
    await waitFor(async () => (await t.app.inject('/health')).statusCode === 200, 15_000, 100);
    expect(await counts(t.app)).toEqual(before);
    const after = await t.app.inject({
      method: 'POST',
      url: '/upload/hired_employees',
      payload: employees(1001, 1100),
      headers: { 'content-type': 'text/csv' },
    });
    expect(after.json()).toMatchObject({ status: 'committed', inserted: 100 });
  });
});
