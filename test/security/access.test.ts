import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sqliteBackend } from '../helpers/backends.js';
import { startApp, type TestApp } from '../helpers/app.js';
import { multipart } from '../helpers/http.js';

const KEYS = ['k-old-5f1c7b0e9a', 'k-new-2d94e83c71'];

describe('API keys: 401 and 403', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp(sqliteBackend, { API_KEY: KEYS.join(',') });
  });
  afterAll(() => t?.close());

  const writes = [
    { method: 'POST' as const, url: '/upload/jobs', payload: '1,a\n', headers: { 'content-type': 'text/csv' } },
    { method: 'POST' as const, url: '/batch/jobs', payload: [{ id: 1, job: 'a' }] },
    { method: 'POST' as const, url: '/reset-db' },
    // Backups hold every row: taking, listing, downloading and restoring them need the key too.
    { method: 'POST' as const, url: '/backup' },
    { method: 'GET' as const, url: '/backups' },
    { method: 'GET' as const, url: '/backup/hired_employees' },
    { method: 'POST' as const, url: '/restore/jobs', payload: 'Obj', headers: { 'content-type': 'avro/binary' } },
  ];

  it('answers 401 with WWW-Authenticate: Bearer to a missing, malformed or unknown key, never naming a key', async () => {
    const offered = [
      undefined,
      '',
      'Bearer',
      'Bearer ',
      `bearer${KEYS[0]}`,
      `Basic ${Buffer.from(`user:${KEYS[0]}`).toString('base64')}`,
      `Bearer ${KEYS[0]!.slice(0, -1)}`,
      `Bearer ${KEYS[0]}x`,
      `Bearer ${KEYS[0]} ${KEYS[1]}`,
      `Bearer ${KEYS.join(',')}`,
      `Bearer ${KEYS[0]!.toUpperCase()}`,
    ];
    for (const write of writes) {
      for (const authorization of offered) {
        const res = await t.app.inject({
          ...write,
          headers: { ...write.headers, ...(authorization === undefined ? {} : { authorization }) },
        });
        expect(res.statusCode, `${write.url} ${authorization}`).toBe(401);
        expect(res.headers['www-authenticate']).toMatch(/^Bearer/);
        expect(res.json().error).toBe('UNAUTHORIZED');
        for (const key of KEYS) expect(res.body).not.toContain(key);
      }
    }
    expect((await t.app.inject('/tables')).json().tables.map((x: { rows: number }) => x.rows)).toEqual([0, 0, 0]);
  });

  it('lets every configured key write (rotation), case-insensitive scheme, never 403: a valid key may do every write', async () => {
    for (const [i, key] of KEYS.entries()) {
      for (const scheme of ['Bearer', 'bearer']) {
        const res = await t.app.inject({
          ...writes[1]!,
          payload: [{ id: 10 + i * 2 + (scheme === 'bearer' ? 1 : 0), job: 'x' }],
          headers: { authorization: `${scheme} ${key}` },
        });
        expect(res.statusCode).toBe(201);
      }
      expect((await t.app.inject({ ...writes[2]!, headers: { authorization: `Bearer ${key}` } })).statusCode).toBe(200);
    }
  });

  it('keeps reads open without a key, and ignores a wrong key on them', async () => {
    for (const url of ['/health', '/tables', '/metrics/hired-employees', '/metrics/years', '/openapi.json']) {
      expect((await t.app.inject(url)).statusCode, url).toBe(200);
      expect((await t.app.inject({ url, headers: { authorization: 'Bearer nope' } })).statusCode, url).toBe(200);
    }
  });
});

/**
 * The allow-list, restated here on purpose (a change to the plugin's list must change this test):
 * with API_KEY set, only these answer without a key.
 */
const ALWAYS_OPEN = (method: string, url: string): boolean =>
  method === 'OPTIONS' ||
  (['GET', 'HEAD'].includes(method) &&
    (url === '/health' ||
      url === '/openapi.json' ||
      url === '/docs' ||
      url.startsWith('/docs/') ||
      url === '/' ||
      url.startsWith('/web/')));
const REPORT = (method: string, url: string): boolean =>
  ['GET', 'HEAD'].includes(method) && (url.startsWith('/metrics/') || url === '/tables');

/** A concrete URL for a route pattern (Fastify's `:param` and `*`, or OpenAPI's `{param}`). */
const concrete = (url: string): string =>
  url
    .replace(/:table|\{table\}/g, 'jobs')
    .replace(/:id|\{id\}/g, '00000000-0000-4000-8000-000000000000')
    .replace(/:\w+|\{\w+\}/g, 'x')
    .replace(/\*$/, 'x');

for (const publicReports of [true, false]) {
  describe(`default-deny access (PUBLIC_REPORTS=${publicReports})`, () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await startApp(sqliteBackend, { API_KEY: KEYS[0]!, PUBLIC_REPORTS: publicReports });
    });
    afterAll(() => t?.close());
    const open = (method: string, url: string): boolean => ALWAYS_OPEN(method, url) || (publicReports && REPORT(method, url));

    it('answers 401 without a key on every route Fastify knows and every operation of the OpenAPI document, except the allow-list', async () => {
      const doc = (await t.app.inject('/openapi.json')).json() as { paths: Record<string, Record<string, unknown>> };
      const fromDoc = Object.entries(doc.paths).flatMap(([path, ops]) =>
        Object.keys(ops).map((m) => ({ method: m.toUpperCase(), url: path })),
      );
      const routes = [...t.app.declaredRoutes, ...fromDoc];
      // The walk covers what it must: the documented operations and the routes kept out of the docs.
      expect(fromDoc.length).toBeGreaterThanOrEqual(15);
      for (const must of [
        'GET /uploads/:id',
        'GET /uploads/:id/rejects.csv',
        'GET /',
        'GET /web/*',
        'GET /docs/static/*',
        'POST /batch/:table',
      ]) {
        expect(
          t.app.declaredRoutes.map((r) => `${r.method} ${r.url}`),
          JSON.stringify(t.app.declaredRoutes),
        ).toContain(must);
      }
      let opened = 0;
      for (const route of routes) {
        const url = concrete(route.url);
        const res = await t.app.inject({ method: route.method as 'GET', url, payload: route.method === 'POST' ? '' : undefined });
        const label = `${route.method} ${route.url} -> ${res.statusCode} ${res.body.slice(0, 80)}`;
        if (open(route.method, route.url)) {
          expect(res.statusCode, label).not.toBe(401);
          opened++;
        } else {
          expect(res.statusCode, label).toBe(401);
          if (route.method !== 'HEAD') expect(res.json().error, label).toBe('UNAUTHORIZED');
        }
      }
      expect(opened).toBeGreaterThan(5);
      // A URL no route declares needs the key too: a caller without one learns nothing.
      expect((await t.app.inject('/no-such-route')).statusCode).toBe(401);
      expect((await t.app.inject({ method: 'POST', url: '/health' })).statusCode).toBe(401);
    });

    it('marks exactly the open operations with security: [] in the OpenAPI document (no padlock in /docs)', async () => {
      const doc = (await t.app.inject('/openapi.json')).json() as {
        security: unknown;
        paths: Record<string, Record<string, { security?: unknown[] }>>;
      };
      expect(doc.security).toEqual([{ bearer: [] }]);
      for (const [path, ops] of Object.entries(doc.paths)) {
        for (const [method, op] of Object.entries(ops)) {
          const route = path.replace(/\{(\w+)\}/g, ':$1');
          if (open(method.toUpperCase(), route)) expect(op.security, `${method} ${path}`).toEqual([]);
          else expect(op.security, `${method} ${path}`).toBeUndefined();
        }
      }
      expect(doc.paths['/health']!.get!.security).toEqual([]);
      expect(doc.paths['/uploads/{id}/rejects.csv']!.get!.security).toBeUndefined();
    });

    it("needs the key for an upload's report and its rejects.csv (they hold people's names)", async () => {
      const auth = { authorization: `Bearer ${KEYS[0]}` };
      const up = await t.app.inject({
        method: 'POST',
        url: '/upload/jobs',
        ...multipart('1,Ada Lovelace\nnot-a-row\n'),
        headers: { ...multipart('').headers, ...auth },
      });
      expect(up.statusCode).toBe(200);
      const id = up.json().upload_id as string;
      for (const url of [`/uploads/${id}`, `/uploads/${id}/rejects.csv`]) {
        const res = await t.app.inject(url);
        expect(res.statusCode, url).toBe(401);
        expect(res.body).not.toContain('not-a-row');
        expect((await t.app.inject({ url, headers: auth })).statusCode, url).toBe(200);
      }
      expect((await t.app.inject({ url: `/uploads/${id}/rejects.csv`, headers: auth })).body).toBe('not-a-row\r\n');
    });
  });
}

describe('default-deny access: a route added later', () => {
  it('needs the key without declaring anything (as routes other modules may add)', async () => {
    const t = await startApp(sqliteBackend, { API_KEY: KEYS[0]! });
    try {
      t.app.get('/later/:id', async () => ({ secret: 'a job with a file name' }));
      t.app.post('/later', async () => ({ started: true }));
      for (const request of [
        { method: 'GET' as const, url: '/later/1' },
        { method: 'POST' as const, url: '/later' },
      ]) {
        const res = await t.app.inject(request);
        expect(res.statusCode, request.url).toBe(401);
        expect(res.body).not.toContain('secret');
        expect((await t.app.inject({ ...request, headers: { authorization: `Bearer ${KEYS[0]}` } })).statusCode).toBe(200);
      }
    } finally {
      await t.close();
    }
  });
});
