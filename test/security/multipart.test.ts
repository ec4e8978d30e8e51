import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS } from '../helpers/backends.js';
import { listen, startApp, type TestApp } from '../helpers/app.js';

const BOUNDARY = 'hr-boundary-q1w2e3';
const head = (filename: string) =>
  `--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="${filename}"\r\nContent-Type: application/octet-stream\r\n\r\n`;

/** Sends a whole body over a real socket (the client stays connected) and reads the answer. */
function post(
  base: string,
  path: string,
  body: Buffer,
  contentType: string,
): Promise<{ status: number; json: { error: string; message: string } }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      `${base}${path}`,
      { method: 'POST', headers: { 'content-type': contentType, 'content-length': body.length } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode!, json: JSON.parse(text) }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

for (const backend of BACKENDS) {
  describe.skipIf(!backend.available)(`multipart bodies the parser refuses [${backend.name}]`, () => {
    let t: TestApp;
    let base: string;
    let avro: Buffer;
    beforeAll(async () => {
      t = await startApp(backend);
      base = await listen(t.app);
      const batch = await t.app.inject({
        method: 'POST',
        url: '/batch/jobs',
        payload: [
          { id: 1, job: 'Analyst' },
          { id: 2, job: 'Cook' },
        ],
      });
      expect(batch.statusCode).toBe(201);
      avro = (await t.app.inject('/backup/jobs')).rawPayload;
    });
    afterAll(() => t?.close());
    const jobs = async () => (await t.app.inject('/tables')).json().tables.find((x: { name: string }) => x.name === 'jobs').rows as number;

    for (const path of ['/upload/jobs', '/restore/jobs?mode=merge']) {
      it(`${path}: multipart/form-data without a boundary → 400 MULTIPART_MALFORMED saying so`, async () => {
        for (const type of ['multipart/form-data', 'multipart/form-data; charset=utf-8', 'multipart/form-data; boundary=']) {
          const res = await t.app.inject({
            method: 'POST',
            url: path,
            payload: `${head('x')}3,Baker\n--${BOUNDARY}--\r\n`,
            headers: { 'content-type': type },
          });
          expect(res.statusCode, `${type}: ${res.body}`).toBe(400);
          expect(res.json().error).toBe('MULTIPART_MALFORMED');
          expect(res.json().message).toMatch(/boundary/);
        }
        expect(await jobs()).toBe(2);
      });

      it(`${path}: a boundary longer than the parser takes → 400 MULTIPART_MALFORMED, not a 500`, async () => {
        const long = 'b'.repeat(300);
        const res = await t.app.inject({
          method: 'POST',
          url: path,
          payload: `--${long}\r\nContent-Disposition: form-data; name="file"; filename="x"\r\n\r\n3,Baker\n--${long}--\r\n`,
          headers: { 'content-type': `multipart/form-data; boundary=${long}` },
        });
        expect(res.statusCode, res.body).toBe(400);
        expect(res.json().error).toBe('MULTIPART_MALFORMED');
      });

      it(`${path}: a whole body sent over a live connection that lacks its closing boundary → 400 MULTIPART_MALFORMED (not 499), nothing written`, async () => {
        const content = path.startsWith('/upload') ? Buffer.from('3,Baker\n4,Tailor\n') : avro;
        const body = Buffer.concat([Buffer.from(head('data')), content, Buffer.from('\r\n')]);
        const res = await post(base, path, body, `multipart/form-data; boundary=${BOUNDARY}`);
        expect(res.status, JSON.stringify(res.json)).toBe(400);
        expect(res.json.error).toBe('MULTIPART_MALFORMED');
        expect(await jobs()).toBe(2);
        // The same body with its closing boundary goes through.
        const whole = Buffer.concat([body, Buffer.from(`--${BOUNDARY}--\r\n`)]);
        expect((await post(base, path, whole, `multipart/form-data; boundary=${BOUNDARY}`)).status).toBe(200);
        if (path.startsWith('/upload')) {
          expect(await jobs()).toBe(4);
          await t.app.inject({ method: 'POST', url: '/restore/jobs', payload: avro, headers: { 'content-type': 'avro/binary' } });
        }
        expect(await jobs()).toBe(2);
      });
    }
  });
}
