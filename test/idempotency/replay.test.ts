import { request as httpRequest, type ClientRequest } from 'node:http';
import Database from 'better-sqlite3';
import type { InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS } from '../helpers/backends.js';
import { sqliteFile } from '../faults/support/app.js';
import { listen, startApp, type TestApp } from '../helpers/app.js';

const KEY = 'sk-idem-3b9f1c';
const OTHER = 'sk-idem-other-77a0';
const auth = (key = KEY) => ({ authorization: `Bearer ${key}` });

/** A multipart body with one `file` part, under a boundary of the caller's choosing (curl picks a new one each call). */
const form = (content: string | Buffer, boundary: string) => ({
  payload: Buffer.concat([
    Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="data"\r\nContent-Type: application/octet-stream\r\n\r\n`,
    ),
    Buffer.isBuffer(content) ? content : Buffer.from(content),
    Buffer.from(`\r\n--${boundary}--\r\n`),
  ]),
  headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
});

for (const backend of BACKENDS) {
  describe.skipIf(!backend.available)(`Idempotency-Key [${backend.name}]`, () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await startApp(backend, { API_KEY: `${KEY},${OTHER}` });
    });
    afterAll(() => t?.close());

    /** Rows of a table, counted with SQL of our own rather than through the routes under test. */
    const count = async (table: string): Promise<number> =>
      Number((await t.app.store.query(`SELECT count(*) AS n FROM ${table}`, []))[0]!.n);
    const storedKeys = async (): Promise<number> =>
      Number((await t.app.store.query('SELECT count(*) AS n FROM idempotency_keys', []))[0]!.n);
    const send = (options: InjectOptions, key: string, apiKey = KEY) =>
      t.app.inject({ ...options, headers: { ...auth(apiKey), ...options.headers, 'idempotency-key': key } });

    it('POST /batch: a repeat gets the same status and body, marked replayed, and the rows are inserted once', async () => {
      const batch = {
        method: 'POST' as const,
        url: '/batch/jobs',
        payload: [
          { id: 101, job: 'Welder' },
          { id: 102, job: 'Potter' },
        ],
      };
      const first = await send(batch, '"batch-1"');
      expect(first.statusCode, first.body).toBe(201);
      expect(first.headers['idempotent-replayed']).toBeUndefined();
      for (let i = 0; i < 3; i++) {
        const again = await send(batch, '"batch-1"');
        expect(again.statusCode).toBe(201);
        expect(again.body).toBe(first.body);
        expect(again.headers['content-type']).toBe(first.headers['content-type']);
        expect(again.headers['idempotent-replayed']).toBe('true');
      }
      expect(await count('jobs')).toBe(2);
      // Without the key, the same batch is a conflict: the replay above did not execute it.
      expect((await t.app.inject({ ...batch, headers: auth() })).statusCode).toBe(409);
    });

    it('the same key with another body, path or query → 422 IDEMPOTENCY_KEY_REUSED, nothing written', async () => {
      const batch = { method: 'POST' as const, url: '/batch/jobs', payload: [{ id: 201, job: 'Cooper' }] };
      expect((await send(batch, 'reuse-1')).statusCode).toBe(201);
      for (const other of [
        { ...batch, payload: [{ id: 202, job: 'Cooper' }] },
        { ...batch, url: '/batch/departments', payload: [{ id: 201, department: 'Cooper' }] },
        { ...batch, url: '/upload/jobs?dry_run=true', payload: '203,Cooper\n', headers: { 'content-type': 'text/csv' } },
      ]) {
        const res = await send(other, 'reuse-1');
        expect(res.statusCode, res.body).toBe(422);
        expect(res.json().error).toBe('IDEMPOTENCY_KEY_REUSED');
      }
      expect(await count('jobs')).toBe(3);
      expect(await count('departments')).toBe(0);
    });

    it('keys are per API key: another key with the same Idempotency-Key is another request', async () => {
      const batch = { method: 'POST' as const, url: '/batch/jobs', payload: [{ id: 301, job: 'Glazier' }] };
      expect((await send(batch, 'shared-name')).statusCode).toBe(201);
      const other = await send(batch, 'shared-name', OTHER);
      expect(other.statusCode).toBe(409);
      expect(other.json().error).toBe('DUPLICATE_ID');
    });

    it('replays a 4xx that did nothing (invalid rows) with its body, the upload log id included', async () => {
      const bad = { method: 'POST' as const, url: '/batch/jobs', payload: [{ id: 'x', job: 'Mason' }] };
      const first = await send(bad, 'bad-rows');
      expect(first.statusCode).toBe(400);
      const again = await send(bad, 'bad-rows');
      expect(again.statusCode).toBe(400);
      expect(again.body).toBe(first.body);
      expect(again.headers['idempotent-replayed']).toBe('true');
    });

    it('POST /upload (text/csv and multipart under another boundary): the same report, rows once', async () => {
      const before = await count('departments');
      const csv = '11,Research\n12,Sales\nnot,a,row\n';
      const raw = { method: 'POST' as const, url: '/upload/departments', payload: csv, headers: { 'content-type': 'text/csv' } };
      const first = await send(raw, 'upload-raw');
      expect(first.statusCode, first.body).toBe(200);
      const again = await send(raw, 'upload-raw');
      expect(again.statusCode).toBe(200);
      expect(again.body).toBe(first.body);
      expect(again.json().upload_id).toBe(first.json().upload_id);
      expect(await count('departments')).toBe(before + 2);

      const multi = (boundary: string, content = '21,Legal\n22,Support\n') => ({
        method: 'POST' as const,
        url: '/upload/departments',
        ...form(content, boundary),
      });
      const one = await send(multi('curl-boundary-a1'), 'upload-multi');
      expect(one.statusCode, one.body).toBe(200);
      const two = await send(multi('curl-boundary-b2'), 'upload-multi');
      expect(two.statusCode).toBe(200);
      expect(two.body).toBe(one.body);
      expect(two.headers['idempotent-replayed']).toBe('true');
      // Another file under the same key: compared after reading it whole, refused.
      const other = await send(multi('curl-boundary-c3', '21,Legal\n23,Other\n'), 'upload-multi');
      expect(other.statusCode).toBe(422);
      expect(await count('departments')).toBe(before + 4);
    });

    it('POST /reset-db: a repeat is answered without emptying the tables again', async () => {
      const reset = { method: 'POST' as const, url: '/reset-db' };
      const first = await send(reset, 'reset-1');
      expect(first.statusCode).toBe(200);
      expect(await count('jobs')).toBe(0);
      expect(
        (await t.app.inject({ method: 'POST', url: '/batch/jobs', payload: [{ id: 1, job: 'Smith' }], headers: auth() })).statusCode,
      ).toBe(201);
      const again = await send(reset, 'reset-1');
      expect(again.statusCode).toBe(200);
      expect(again.body).toBe(first.body);
      expect(await count('jobs')).toBe(1);
    });

    it('POST /restore: a repeat is answered without restoring again (raw and multipart)', async () => {
      const avro = (await t.app.inject({ url: '/backup/jobs', headers: auth() })).rawPayload;
      for (const [label, body] of [
        ['raw', { payload: avro, headers: { 'content-type': 'avro/binary' } }],
        ['multipart', form(avro, `b-${Math.random()}`)],
      ] as const) {
        const restore = { method: 'POST' as const, url: '/restore/jobs?mode=replace', ...body };
        const first = await send(restore, `restore-${label}`);
        expect(first.statusCode, first.body).toBe(200);
        expect(await count('jobs')).toBe(1);
        await t.app.inject({ method: 'POST', url: '/batch/jobs', payload: [{ id: 2, job: 'Joiner' }], headers: auth() });
        const again = await send(label === 'multipart' ? { ...restore, ...form(avro, 'another-boundary') } : restore, `restore-${label}`);
        expect(again.statusCode).toBe(200);
        expect(again.body).toBe(first.body);
        // A replace would have removed the row added since.
        expect(await count('jobs')).toBe(2);
        await t.app.inject({
          method: 'POST',
          url: '/restore/jobs?mode=replace',
          payload: avro,
          headers: { ...auth(), 'content-type': 'avro/binary' },
        });
      }
    });

    it('a repeat while the first still runs → 409 IDEMPOTENCY_IN_PROGRESS with Retry-After; once it is done, its answer', async () => {
      const base = await listen(t.app);
      const before = await count('departments');
      // The first upload sends half its body over a real socket and waits.
      let first!: ClientRequest;
      const answer = new Promise<{ status: number; body: string }>((resolve, reject) => {
        first = httpRequest(
          `${base}/upload/departments`,
          {
            method: 'POST',
            headers: { ...auth(), 'content-type': 'text/csv', 'idempotency-key': 'slow-1', 'transfer-encoding': 'chunked' },
          },
          (res) => {
            let body = '';
            res.on('data', (c: Buffer) => (body += c.toString()));
            res.on('end', () => resolve({ status: res.statusCode!, body }));
          },
        );
        first.on('error', reject);
      });
      // Observe (not replace) the store's claims, to send the repeat once the first holds the key.
      const keys = t.app.store.idempotency;
      const claim = keys.claim.bind(keys);
      const claimed: string[] = [];
      keys.claim = async (...args) => {
        const result = await claim(...args);
        if (result.claimed) claimed.push(args[0].key);
        return result;
      };
      first.write('31,Alpha\n');
      for (let i = 0; i < 500 && !claimed.includes('slow-1'); i++) await new Promise((resolve) => setTimeout(resolve, 10));
      keys.claim = claim;
      const repeat = await send(
        { method: 'POST', url: '/upload/departments', payload: '31,Alpha\n32,Beta\n', headers: { 'content-type': 'text/csv' } },
        'slow-1',
      );
      expect(repeat.statusCode, repeat.body).toBe(409);
      expect(repeat.json().error).toBe('IDEMPOTENCY_IN_PROGRESS');
      expect(Number(repeat.headers['retry-after'])).toBeGreaterThan(0);
      first.end('32,Beta\n');
      const done = await answer;
      expect(done.status, done.body).toBe(200);
      const replay = await send(
        { method: 'POST', url: '/upload/departments', payload: '31,Alpha\n32,Beta\n', headers: { 'content-type': 'text/csv' } },
        'slow-1',
      );
      expect(replay.statusCode).toBe(200);
      expect(replay.body).toBe(done.body);
      expect(await count('departments')).toBe(before + 2);
    });

    it('expired keys are purged, and a key past its time executes again', async () => {
      const batch = { method: 'POST' as const, url: '/batch/jobs', payload: [{ id: 901, job: 'Thatcher' }] };
      expect((await send(batch, 'expiring')).statusCode).toBe(201);
      expect((await send(batch, 'expiring')).headers['idempotent-replayed']).toBe('true');
      const kept = await storedKeys();
      expect(await t.app.store.idempotency.purgeExpired(new Date())).toBe(0);
      expect(await storedKeys()).toBe(kept);
      // IDEMPOTENCY_TTL_HOURS is 24 by default: a day and an hour later, every answer is gone.
      expect(await t.app.store.idempotency.purgeExpired(new Date(Date.now() + 25 * 3_600_000))).toBe(kept);
      expect(await storedKeys()).toBe(0);
      const again = await send(batch, 'expiring');
      expect(again.statusCode).toBe(409);
      expect(again.json().error).toBe('DUPLICATE_ID');
    });

    it('refuses a malformed Idempotency-Key with 400', async () => {
      const res = await send({ method: 'POST', url: '/reset-db' }, 'x'.repeat(300));
      expect(res.statusCode).toBe(400);
    });
  });
}

describe('Idempotency-Key: an answer that is not final frees the key (SQLite file, writer held by another process)', () => {
  let t: TestApp;
  let path: string;
  beforeAll(async () => {
    const db = await sqliteFile();
    path = db.path;
    t = await startApp({ name: 'sqlite', available: true, create: async () => db }, { SQLITE_BUSY_TIMEOUT_MS: 200 });
  });
  afterAll(() => t?.close());

  it('a 503 is not stored: the retry with the same key executes once the database is free', async () => {
    const other = new Database(path);
    other.exec('BEGIN IMMEDIATE');
    const batch = {
      method: 'POST' as const,
      url: '/batch/jobs',
      payload: [{ id: 1, job: 'Sawyer' }],
      headers: { 'idempotency-key': 'busy-1' },
    };
    const busy = await t.app.inject(batch);
    expect(busy.statusCode, busy.body).toBe(503);
    expect(busy.headers['retry-after']).toBeDefined();
    other.exec('ROLLBACK');
    other.close();
    const retry = await t.app.inject(batch);
    expect(retry.statusCode, retry.body).toBe(201);
    expect(retry.headers['idempotent-replayed']).toBeUndefined();
    const replay = await t.app.inject(batch);
    expect(replay.statusCode).toBe(201);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(Number((await t.app.store.query('SELECT count(*) AS n FROM jobs', []))[0]!.n)).toBe(1);
  });
});
