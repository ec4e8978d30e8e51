import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sqliteBackend } from '../helpers/backends.js';
import { startApp, type TestApp } from '../helpers/app.js';
import { startWrappedApp, type WrappedApp } from '../faults/support/app.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const HELMET = {
  'content-security-policy': expect.stringContaining("default-src 'self'"),
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'SAMEORIGIN',
  'strict-transport-security': expect.stringContaining('max-age='),
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'x-dns-prefetch-control': 'off',
};

/** A 4xx/5xx body: the one shape, and nothing of the server's insides. */
function expectCleanError(res: LightMyRequestResponse): void {
  const body = res.json() as Record<string, unknown>;
  expect(Object.keys(body).filter((k) => !['error', 'message', 'details'].includes(k))).toEqual([]);
  expect(typeof body.error).toBe('string');
  expect(typeof body.message).toBe('string');
  expect(res.body).not.toMatch(/\bat .+:\d+:\d+|node_modules|\/work\/|stack/i);
  expect(res.body).not.toMatch(/\b(SELECT|INSERT|UPDATE|DELETE|FROM|WHERE)\b|sqlite|relation "/i);
}

describe('every answer: security headers, x-request-id, no internals', () => {
  let t: WrappedApp;
  beforeAll(async () => {
    // Reports fail the way a database bug would: an error carrying SQL and a stack.
    t = await startWrappedApp(
      sqliteBackend,
      {
        query: async () => {
          const error = new Error('SQLITE_ERROR: no such column: hired_at in SELECT d.department FROM departments d WHERE x');
          Object.assign(error, { code: 'SQLITE_ERROR' });
          throw error;
        },
      },
      { API_KEY: 'the-key', JSON_BODY_MAX_BYTES: 1024 },
    );
  });
  afterAll(() => t?.close());

  const auth = { authorization: 'Bearer the-key' };
  const cases: { name: string; request: InjectOptions; status: number }[] = [
    { name: 'a read', request: { url: '/health' }, status: 200 },
    { name: 'the docs', request: { url: '/docs/' }, status: 200 },
    {
      name: 'a batch',
      request: { method: 'POST', url: '/batch/departments', payload: [{ id: 1, department: 'A' }], headers: auth },
      status: 201,
    },
    {
      name: 'invalid JSON',
      request: { method: 'POST', url: '/batch/jobs', payload: '[{', headers: { ...auth, 'content-type': 'application/json' } },
      status: 400,
    },
    { name: 'no key', request: { method: 'POST', url: '/reset-db' }, status: 401 },
    { name: 'an unknown route (with the key; without it, 401)', request: { url: '/etc/passwd', headers: auth }, status: 404 },
    {
      name: 'a body too large',
      request: { method: 'POST', url: '/batch/jobs', payload: 'x'.repeat(5000), headers: { ...auth, 'content-type': 'application/json' } },
      status: 413,
    },
    {
      name: 'another content type',
      request: { method: 'POST', url: '/upload/jobs', payload: '1,a', headers: { ...auth, 'content-type': 'text/plain' } },
      status: 415,
    },
    { name: 'a database bug', request: { url: '/metrics/hired-employees?year=2021' }, status: 500 },
  ];

  for (const { name, request, status } of cases) {
    it(`${name} → ${status}, with helmet's headers and an x-request-id${status >= 400 ? ', in the one error shape without internals' : ''}`, async () => {
      const res = await t.app.inject(request);
      expect(res.statusCode).toBe(status);
      expect(res.headers).toMatchObject(HELMET);
      expect(res.headers['x-request-id']).toMatch(UUID);
      expect(res.headers['access-control-allow-origin']).toBeUndefined();
      expect(res.headers['x-powered-by']).toBeUndefined();
      if (status >= 400) expectCleanError(res);
    });
  }

  it('answers a 500 with the generic message only', async () => {
    const res = await t.app.inject('/metrics/departments-above-mean');
    expect(res.json()).toEqual({ error: 'INTERNAL', message: 'Internal server error' });
  });

  it("echoes a client's plain x-request-id, and replaces one that is not a plain token", async () => {
    expect((await t.app.inject({ url: '/health', headers: { 'x-request-id': 'trace-42.a_b:c' } })).headers['x-request-id']).toBe(
      'trace-42.a_b:c',
    );
    for (const hostile of ['x'.repeat(500), 'a b', '<script>', 'id\u00e9']) {
      const res = await t.app.inject({ url: '/health', headers: { 'x-request-id': hostile } });
      expect(res.headers['x-request-id'], hostile).toMatch(UUID);
    }
  });
});

describe('CORS', () => {
  const preflight = (origin: string): InjectOptions => ({
    method: 'OPTIONS',
    url: '/batch/departments',
    headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' },
  });

  describe('by default', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await startApp(sqliteBackend);
    });
    afterAll(() => t?.close());

    it('is closed: no origin gets an Access-Control-Allow-Origin, on preflights or answers', async () => {
      for (const origin of ['https://evil.example', 'null', 'http://127.0.0.1:8000']) {
        const pre = await t.app.inject(preflight(origin));
        expect(pre.headers['access-control-allow-origin'], origin).toBeUndefined();
        expect(pre.headers['access-control-allow-methods'], origin).toBeUndefined();
        const get = await t.app.inject({ url: '/tables', headers: { origin } });
        expect(get.headers['access-control-allow-origin'], origin).toBeUndefined();
      }
    });
  });

  describe('with CORS_ORIGINS', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await startApp(sqliteBackend, { CORS_ORIGINS: 'https://hr.example.com, https://admin.example.com/' });
    });
    afterAll(() => t?.close());

    it('allows exactly the listed origins, with the key and content-type headers', async () => {
      for (const origin of ['https://hr.example.com', 'https://admin.example.com']) {
        const pre = await t.app.inject(preflight(origin));
        expect(pre.statusCode).toBe(204);
        expect(pre.headers['access-control-allow-origin']).toBe(origin);
        expect(pre.headers['access-control-allow-methods']).toContain('POST');
        expect(String(pre.headers['access-control-allow-headers'])).toMatch(/authorization/);
        const get = await t.app.inject({ url: '/tables', headers: { origin } });
        expect(get.headers['access-control-allow-origin']).toBe(origin);
        expect(String(get.headers['access-control-expose-headers'])).toContain('x-request-id');
      }
      for (const origin of ['https://evil.example', 'https://hr.example.com.evil.example', 'http://hr.example.com']) {
        expect((await t.app.inject(preflight(origin))).headers['access-control-allow-origin'], origin).toBeUndefined();
        expect(
          (await t.app.inject({ url: '/tables', headers: { origin } })).headers['access-control-allow-origin'],
          origin,
        ).toBeUndefined();
      }
    });
  });
});
