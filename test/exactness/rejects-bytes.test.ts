/**
 * rejects.csv gives back the bytes that were sent, on both backends, a NUL byte included:
 * PostgreSQL's text cannot hold NUL, so such a line is kept as bytes too (migration 009).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type TestApp } from '../helpers/app.js';
import { BACKENDS } from '../helpers/backends.js';

const bytes = (...parts: (string | number[])[]): Buffer =>
  Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : Buffer.from(p))));

// Rejected lines: a NUL in a name (with multi-byte text and a literal U+FFFD around it), two NULs
// and a backslash, and a line rejected for another reason that holds no NUL.
const REJECTED = [
  bytes('5,Ann', [0x00], 'Lee Caf', [0xc3, 0xa9, 0xef, 0xbf, 0xbd], ',2021-01-01T00:00:00Z,1,1'),
  bytes('6,', [0x00, 0x00], 'back\\slash\t,2021-01-01T00:00:00Z,1,1'),
  bytes('0,Zero id ', [0xe2, 0x82, 0xac], ',2021-01-01T00:00:00Z,1,1'),
];
const ACCEPTED = bytes('7,Bob,2021-01-01T00:00:00Z,1,1');

for (const backend of BACKENDS) {
  describe.skipIf(!backend.available)(`GET /uploads/{id}/rejects.csv bytes [${backend.name}]`, () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await startApp(backend);
    });
    afterAll(() => t.close());

    it('are the rejected lines as sent, a NUL byte included', async () => {
      const body = Buffer.concat([REJECTED[0]!, bytes('\n'), ACCEPTED, bytes('\n'), REJECTED[1]!, bytes('\n'), REJECTED[2]!, bytes('\n')]);
      const res = await t.app.inject({
        method: 'POST',
        url: '/upload/hired_employees',
        payload: body,
        headers: { 'content-type': 'text/csv' },
      });
      expect(res.json()).toMatchObject({ received: 4, inserted: 1, rejected: 3 });
      const rejects = await t.app.inject(`/uploads/${res.json().upload_id}/rejects.csv`);
      expect(rejects.statusCode).toBe(200);
      // Each line as sent, then CRLF (rejects.csv's line end).
      expect(rejects.rawPayload.equals(Buffer.concat(REJECTED.flatMap((line) => [line, bytes('\r\n')])))).toBe(true);
      const annotated = await t.app.inject(`/uploads/${res.json().upload_id}/rejects.csv?annotate=true`);
      expect(annotated.rawPayload.includes(bytes('"6,', [0x00, 0x00], 'back\\slash\t,'))).toBe(true);
    });

    it('keeps a NUL in the log of a dry run too', async () => {
      const dry = await t.app.inject({
        method: 'POST',
        url: '/upload/hired_employees?dry_run=true',
        payload: Buffer.concat([REJECTED[0]!, bytes('\n')]),
        headers: { 'content-type': 'text/csv' },
      });
      expect(dry.json()).toMatchObject({ status: 'dry_run', rejected: 1 });
      const rejects = await t.app.inject(`/uploads/${dry.json().upload_id}/rejects.csv`);
      expect(rejects.rawPayload.equals(Buffer.concat([REJECTED[0]!, bytes('\r\n')]))).toBe(true);
    });
  });
}
