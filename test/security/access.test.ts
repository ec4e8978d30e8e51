import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sqliteBackend } from '../helpers/backends.js';
import { startApp, type TestApp } from '../helpers/app.js';

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
