import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sqliteBackend } from '../helpers/backends.js';
import { startApp, type TestApp } from '../helpers/app.js';

describe('rate limit on writes (RATE_LIMIT_WRITES_PER_MINUTE)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp(sqliteBackend, { RATE_LIMIT_WRITES_PER_MINUTE: 3, TRUST_PROXY: '127.0.0.1' });
  });
  afterAll(() => t?.close());

  const write = (i: number, client = '10.0.0.1') => ({
    method: 'POST' as const,
    url: '/batch/departments',
    payload: [{ id: i, department: `D${i}` }],
    headers: { 'x-forwarded-for': client },
  });

  it('answers 429 with Retry-After in the one error shape once a client has spent its writes, and stores nothing of it', async () => {
    for (let i = 1; i <= 3; i++) expect((await t.app.inject(write(i))).statusCode).toBe(201);
    const refused = await t.app.inject(write(4));
    expect(refused.statusCode).toBe(429);
    const retryAfter = Number(refused.headers['retry-after']);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(refused.headers['x-request-id']).toBeDefined();
    expect(refused.json()).toEqual({
      error: 'TOO_MANY_REQUESTS',
      message: `At most 3 writes per minute from one client; retry in ${retryAfter} s`,
      details: { limit: 3, retry_after_seconds: retryAfter },
    });
    expect((await t.app.inject('/tables')).json().tables[0].rows).toBe(3);
  });

  it('counts every write route together: uploads and resets are refused too', async () => {
    const upload = await t.app.inject({
      method: 'POST',
      url: '/upload/jobs',
      payload: '1,a\n',
      headers: { 'content-type': 'text/csv', 'x-forwarded-for': '10.0.0.1' },
    });
    expect(upload.statusCode).toBe(429);
    expect((await t.app.inject({ method: 'POST', url: '/reset-db', headers: { 'x-forwarded-for': '10.0.0.1' } })).statusCode).toBe(429);
  });

  it('leaves reads alone, and other clients their own allowance', async () => {
    for (let i = 0; i < 20; i++) {
      expect((await t.app.inject({ url: '/tables', headers: { 'x-forwarded-for': '10.0.0.1' } })).statusCode).toBe(200);
    }
    expect((await t.app.inject(write(10, '10.0.0.2'))).statusCode).toBe(201);
  });
});
