import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sqliteBackend } from '../helpers/backends.js';
import { startApp, type TestApp } from '../helpers/app.js';

/** Every route, with a request that must fail, and the status it must fail with. */
const FAILURES = [
  { name: 'unknown route', method: 'GET', url: '/nope', status: 404 },
  { name: 'upload: unknown table', method: 'POST', url: '/upload/x', payload: '1,a', type: 'text/csv', status: 404 },
  { name: 'upload: bad content type', method: 'POST', url: '/upload/jobs', payload: 'x', type: 'application/octet-stream', status: 415 },
  { name: 'upload: bad query', method: 'POST', url: '/upload/jobs?dry_run=maybe', payload: '1,a', type: 'text/csv', status: 400 },
  { name: 'batch: invalid rows', method: 'POST', url: '/batch/jobs', payload: '[{"id":"x"}]', type: 'application/json', status: 400 },
  {
    name: 'batch: body too large',
    method: 'POST',
    url: '/batch/jobs',
    payload: `[${'1,'.repeat(2000)}1]`,
    type: 'application/json',
    status: 413,
  },
  { name: 'metrics: bad year', method: 'GET', url: '/metrics/hired-employees?year=0', status: 400 },
  { name: 'metrics: bad format', method: 'GET', url: '/metrics/departments-above-mean?format=xml', status: 400 },
  { name: 'uploads: unknown id', method: 'GET', url: '/uploads/00000000-0000-0000-0000-000000000000', status: 404 },
  { name: 'rejects: unknown id', method: 'GET', url: '/uploads/unknown/rejects.csv', status: 404 },
] as const;

describe('error answers', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp(sqliteBackend, { JSON_BODY_MAX_BYTES: 1024 });
  });
  afterAll(() => t.close());

  for (const f of FAILURES) {
    it(`${f.name} → ${f.status} with {error, message} and a request id`, async () => {
      const res = await t.app.inject({
        method: f.method,
        url: f.url,
        ...('payload' in f ? { payload: f.payload, headers: { 'content-type': f.type } } : {}),
      });
      expect(res.statusCode).toBe(f.status);
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expect(res.headers['x-request-id']).toBeTruthy();
      const body = res.json();
      expect(typeof body.error).toBe('string');
      expect(typeof body.message).toBe('string');
      expect(Object.keys(body).every((k) => ['error', 'message', 'details'].includes(k))).toBe(true);
    });
  }

  it('serves the OpenAPI document and Swagger UI, with every endpoint', async () => {
    const doc = (await t.app.inject('/openapi.json')).json();
    expect(doc.openapi).toMatch(/^3\./);
    for (const path of [
      '/upload/{table}',
      '/batch/{table}',
      '/uploads/{id}',
      '/uploads/{id}/rejects.csv',
      '/metrics/hired-employees',
      '/metrics/departments-above-mean',
      '/tables',
      '/health',
      '/reset-db',
    ]) {
      expect(doc.paths[path], path).toBeDefined();
    }
    const ui = await t.app.inject('/docs/');
    expect(ui.statusCode).toBe(200);
    expect(ui.body).toMatch(/swagger/i);
  });
});
