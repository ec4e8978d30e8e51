import { afterAll, describe, expect, it } from 'vitest';
import { sqliteFile } from '../faults/support/app.js';
import { waitFor } from '../faults/support/http.js';
import { startServerProcess, type ServerProcess } from '../helpers/server-process.js';

const KEY = 'sk-live-7c0ffee7c0ffee';
const OTHER_KEY = 'sk-rotated-b0a7b0a7';
const WRONG = 'sk-guess-deadbeef42';

describe('the server process: upload ids in its info log', () => {
  let server: ServerProcess | undefined;
  let drop: (() => Promise<void>) | undefined;
  afterAll(async () => {
    await server?.stop();
    await drop?.();
  });

  it("never logs where an upload's rejected lines are (the rejects URL, the report's URL) at info", async () => {
    const db = await sqliteFile();
    drop = db.drop;
    server = await startServerProcess({ DATABASE_URL: db.url, API_KEY: KEY, LOG_LEVEL: 'info' });
    const auth = { authorization: `Bearer ${KEY}` };
    const up = await fetch(`${server.url}/upload/jobs`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'text/csv' },
      body: '1,a\nbad\n',
    });
    const id = ((await up.json()) as { upload_id: string }).upload_id;
    for (const path of [`/uploads/${id}`, `/uploads/${id}/rejects.csv?annotate=true`, `/uploads/${id}/rejects.csv`]) {
      const res = await fetch(`${server.url}${path}`, { headers: { ...auth, 'x-request-id': 'last-one' } });
      expect(res.status, path).toBe(200);
      await res.text();
    }
    await waitFor(() => server!.output().split('last-one').length > 6, 5000);
    const log = server.output();
    expect(log).not.toContain(`/uploads/${id}`);
    expect(log).toContain('"url":"/uploads/{id}/rejects.csv?annotate=true"');
  });
});

describe('the server process: its logs', () => {
  let server: ServerProcess | undefined;
  let drop: (() => Promise<void>) | undefined;
  afterAll(async () => {
    await server?.stop();
    await drop?.();
  });

  it('never logs a key, and every log line of a request carries its x-request-id', async () => {
    const db = await sqliteFile();
    drop = db.drop;
    server = await startServerProcess({ DATABASE_URL: db.url, API_KEY: `${KEY},${OTHER_KEY}`, LOG_LEVEL: 'trace' });
    const startedAt = server.output().length;
    const ids: string[] = [];
    const send = async (path: string, init: RequestInit = {}) => {
      const res = await fetch(`${server!.url}${path}`, init);
      ids.push(res.headers.get('x-request-id')!);
      await res.text();
      return res.status;
    };
    const csv = (key: string) => ({
      method: 'POST',
      headers: { 'content-type': 'text/csv', authorization: `Bearer ${key}` },
      body: '1,a\n2,b\n',
    });
    expect(await send('/upload/departments', csv(KEY))).toBe(200);
    expect(await send('/upload/jobs', csv(OTHER_KEY))).toBe(200);
    expect(await send('/upload/jobs', csv(WRONG))).toBe(401);
    expect(
      await send('/batch/jobs', { method: 'POST', headers: { authorization: WRONG, 'content-type': 'application/json' }, body: '[]' }),
    ).toBe(401);
    expect(await send('/reset-db', { method: 'POST', headers: { authorization: `Bearer ${KEY}` } })).toBe(200);
    expect(await send('/nowhere')).toBe(401);
    expect(await send('/nowhere', { headers: { authorization: `Bearer ${KEY}` } })).toBe(404);
    expect(await send('/tables', { headers: { 'x-request-id': 'client-trace-7' } })).toBe(200);
    expect(ids).toContain('client-trace-7');

    // pino writes asynchronously: wait for the last request's completion line.
    await waitFor(() => server!.output().split('client-trace-7').length > 2, 5000);
    const log = server.output().slice(startedAt);
    for (const key of [KEY, OTHER_KEY, WRONG]) expect(log).not.toContain(key);
    for (const part of [KEY, OTHER_KEY, WRONG].map((k) => k.slice(-8))) expect(log).not.toContain(part);

    const lines = log
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as { reqId?: string; msg?: string });
    expect(lines.length).toBeGreaterThanOrEqual(2 * ids.length);
    for (const line of lines) expect(line.reqId, JSON.stringify(line)).toBeDefined();
    for (const id of ids) expect(lines.filter((l) => l.reqId === id).length, id).toBeGreaterThanOrEqual(2);
  });
});

describe('the server process: where it listens', () => {
  const started: ServerProcess[] = [];
  afterAll(async () => {
    for (const s of started) await s.stop();
  });

  it('refuses a non-loopback address without an API key, and says why', async () => {
    await expect(startServerProcess({ DATABASE_URL: 'sqlite::memory:', HOST: '0.0.0.0' })).rejects.toThrow(
      /exited with 1[\s\S]*Refusing to listen on 0\.0\.0\.0 without API_KEY/,
    );
    await expect(startServerProcess({ DATABASE_URL: 'sqlite::memory:', HOST: '::', API_KEY: ' , ' })).rejects.toThrow(/exited with 1/);
  });

  it('listens on it with a key, or with ALLOW_NO_AUTH=true said explicitly; loopback needs neither', async () => {
    const envs: Record<string, string>[] = [
      { HOST: '0.0.0.0', API_KEY: KEY },
      { HOST: '0.0.0.0', ALLOW_NO_AUTH: 'true' },
      { HOST: '127.0.0.1' },
    ];
    for (const env of envs) {
      const server = await startServerProcess({ DATABASE_URL: 'sqlite::memory:', ...env });
      started.push(server);
      expect((await fetch(`${server.url}/health`)).status).toBe(200);
      await server.stop();
    }
  });
});
