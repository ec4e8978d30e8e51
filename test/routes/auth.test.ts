import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sqliteBackend } from '../helpers/backends.js';
import { startApp, type TestApp } from '../helpers/app.js';

describe('API keys', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp(sqliteBackend, { API_KEY: 'old-key, new-key' });
  });
  afterAll(() => t.close());

  const writes = [
    { method: 'POST' as const, url: '/upload/jobs', payload: '1,a\n', headers: { 'content-type': 'text/csv' } },
    { method: 'POST' as const, url: '/batch/jobs', payload: [{ id: 1, job: 'a' }] },
    { method: 'POST' as const, url: '/reset-db' },
  ];

  it('answers 401 to every write without a key or with a wrong one', async () => {
    for (const write of writes) {
      for (const authorization of [undefined, 'Bearer wrong', 'Basic b2xkLWtleQ==', 'Bearer ']) {
        const res = await t.app.inject({ ...write, headers: { ...write.headers, ...(authorization ? { authorization } : {}) } });
        expect(res.statusCode, `${write.url} ${authorization}`).toBe(401);
        expect(res.json().error).toBe('UNAUTHORIZED');
      }
    }
    expect((await t.app.inject('/tables')).json().tables[1].rows).toBe(0);
  });

  it('accepts any of the configured keys (rotation)', async () => {
    const first = await t.app.inject({ ...writes[1]!, headers: { authorization: 'Bearer old-key' } });
    expect(first.statusCode).toBe(201);
    const second = await t.app.inject({
      ...writes[0]!,
      url: '/upload/departments',
      headers: { ...writes[0]!.headers, authorization: 'Bearer new-key' },
    });
    expect(second.statusCode).toBe(200);
  });

  it('keeps reads open', async () => {
    for (const url of ['/tables', '/health', '/metrics/hired-employees', '/metrics/departments-above-mean', '/openapi.json']) {
      expect((await t.app.inject(url)).statusCode, url).toBe(200);
    }
  });
});
