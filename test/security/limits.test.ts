import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listen, startApp, type TestApp } from '../helpers/app.js';
import { sqliteBackend } from '../helpers/backends.js';
import { multipart } from '../helpers/http.js';
import { counts } from '../faults/support/app.js';
import { sleep } from '../faults/support/http.js';

const csv = (payload: string | Buffer) => ({ payload, headers: { 'content-type': 'text/csv' } });

describe('limits, each configurable, each a clear 4xx', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp(sqliteBackend, {
      UPLOAD_MAX_BYTES: 2000,
      CSV_MAX_RECORD_BYTES: 100,
      CSV_MAX_FIELDS: 10,
      JSON_BODY_MAX_BYTES: 2000,
      BATCH_MAX_ROWS: 5,
    });
  });
  afterAll(() => t?.close());

  const lines = (n: number) => [...Array(n).keys()].map((i) => `${i + 1},Department ${i + 1}`).join('\n');

  it('UPLOAD_MAX_BYTES: 413 for a larger upload, raw or multipart, and none of its rows', async () => {
    for (const body of [csv(lines(200)), multipart(lines(200))]) {
      const res = await t.app.inject({ method: 'POST', url: '/upload/departments', ...body });
      expect(res.statusCode).toBe(413);
      expect(res.json()).toMatchObject({ error: 'PAYLOAD_TOO_LARGE', message: expect.stringContaining('2000 bytes') });
    }
    expect((await counts(t.app)).departments).toBe(0);
  });

  it('CSV_MAX_RECORD_BYTES: 400 CSV_MALFORMED naming the line of a longer record', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/upload/departments', ...csv(`1,ok\n2,${'x'.repeat(150)}\n3,ok\n`) });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ error: 'CSV_MALFORMED', details: { line: 2 }, message: expect.stringContaining('longer than 100') });
    expect((await counts(t.app)).departments).toBe(0);
  });

  it('CSV_MAX_FIELDS: 400 naming the line past the limit; a wrong count below it is a rejected row', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/upload/departments', ...csv(`1,ok\n2,${'x,'.repeat(10)}x\n`) });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ error: 'CSV_MALFORMED', details: { line: 2 }, message: expect.stringContaining('limit of 10') });
    const rejected = await t.app.inject({ method: 'POST', url: '/upload/departments', ...csv('1,ok\n2,a,b,c\n') });
    expect(rejected.json()).toMatchObject({ inserted: 1, rejected: 1, errors: [{ line: 2, reason: expect.stringContaining('found 4') }] });
  });

  it('JSON_BODY_MAX_BYTES: 413 for a larger batch body', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/batch/jobs', payload: [{ id: 1, job: 'x'.repeat(3000) }] });
    expect(res.statusCode).toBe(413);
    expect(res.json().error).toBe('PAYLOAD_TOO_LARGE');
  });

  it('BATCH_MAX_ROWS: 400 for more rows, nothing inserted', async () => {
    const rows = (n: number) => [...Array(n).keys()].map((i) => ({ id: 100 + i, job: `J${i}` }));
    const res = await t.app.inject({ method: 'POST', url: '/batch/jobs', payload: rows(6) });
    expect(res.statusCode).toBe(400);
    expect(res.json().message).toContain('1 to 5 rows');
    expect((await t.app.inject({ method: 'POST', url: '/batch/jobs', payload: rows(5) })).statusCode).toBe(201);
  });

  it('refuses a compressed upload (a zip bomb is never inflated): 415', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/upload/departments',
      payload: Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0]),
      headers: { 'content-type': 'text/csv', 'content-encoding': 'gzip' },
    });
    expect(res.statusCode).toBe(415);
    expect(res.json().message).toContain('Content-Encoding gzip');
  });
});

/** A raw connection: what the server sent, and when it closed. */
function rawConnection(url: string) {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  let received = '';
  socket.setEncoding('utf8');
  socket.on('data', (d: string) => (received += d));
  socket.on('error', () => undefined);
  const closed = new Promise<number>((resolve) => socket.on('close', () => resolve(performance.now())));
  return { socket, received: () => received, closed };
}

describe('slow clients (slow-loris): request, header and idle deadlines', () => {
  let t: TestApp;
  let url: string;
  beforeAll(async () => {
    t = await startApp(sqliteBackend, { UPLOAD_IDLE_TIMEOUT_MS: 300, REQUEST_TIMEOUT_MS: 1500, HEADERS_TIMEOUT_MS: 1000 });
    url = await listen(t.app);
  });
  afterAll(() => t?.close());

  it('UPLOAD_IDLE_TIMEOUT_MS: an upload that stops sending gets 408, is rolled back, and its connection closed', async () => {
    const c = rawConnection(url);
    c.socket.write('POST /upload/departments?batch_size=2 HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\nContent-Length: 100000\r\n\r\n');
    c.socket.write('1,a\n2,b\n3,c\n4,d\n5,e\n');
    const stalled = performance.now();
    const closedAt = await c.closed;
    expect(c.received()).toMatch(/^HTTP\/1\.1 408/);
    expect(c.received()).toMatch(/connection: close/i);
    expect(c.received()).toContain('"error":"REQUEST_TIMEOUT"');
    expect(closedAt - stalled).toBeGreaterThanOrEqual(250);
    expect(closedAt - stalled).toBeLessThan(5000);
    expect((await counts(t.app)).departments).toBe(0);
    const uploadId = /"upload_id":"([^"]+)"/.exec(c.received())![1];
    expect((await t.app.inject(`/uploads/${uploadId}`)).json()).toMatchObject({ status: 'failed', received: 5 });
  });

  it('REQUEST_TIMEOUT_MS: a body trickled too slowly to finish in time gets 408 and is closed; nothing stored', async () => {
    const c = rawConnection(url);
    c.socket.write('POST /upload/departments HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\nContent-Length: 100000\r\n\r\n');
    const started = performance.now();
    let id = 1;
    let open = true;
    void c.closed.then(() => (open = false));
    while (open && performance.now() - started < 8000) {
      c.socket.write(`${id},d${id}\n`);
      id++;
      await sleep(100);
    }
    const elapsed = performance.now() - started;
    expect(open).toBe(false);
    expect(c.received()).toMatch(/^HTTP\/1\.1 408/);
    expect(elapsed).toBeGreaterThanOrEqual(1400);
    expect((await counts(t.app)).departments).toBe(0);
    expect((await t.app.inject('/health')).statusCode).toBe(200);
  });

  it('HEADERS_TIMEOUT_MS: headers trickled byte by byte get 408 and the connection closed', async () => {
    const c = rawConnection(url);
    const started = performance.now();
    const header = 'GET /tables HTTP/1.1\r\nHost: x\r\nX-Slow: ' + 'a'.repeat(200);
    let open = true;
    void c.closed.then(() => (open = false));
    for (let i = 0; open && i < header.length && performance.now() - started < 8000; i++) {
      c.socket.write(header[i]!);
      await sleep(40);
    }
    await c.closed;
    expect(performance.now() - started).toBeGreaterThanOrEqual(900);
    expect(c.received()).toMatch(/^HTTP\/1\.1 408/);
  });
});
