import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type TestApp } from '../helpers/app.js';
import { BACKENDS } from '../helpers/backends.js';
import { multipart } from '../helpers/http.js';
import { counts } from '../faults/support/app.js';

const csv = (payload: string | Buffer) => ({ payload, headers: { 'content-type': 'text/csv' } });
const json = (payload: string) => ({ payload, headers: { 'content-type': 'application/json' } });

for (const backend of BACKENDS) {
  describe.skipIf(!backend.available)(`malformed input gets a 4xx or a clean row rejection, never a 5xx [${backend.name}]`, () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await startApp(backend);
      await t.app.inject({ method: 'POST', url: '/upload/departments', ...csv('1,Engineering\n') });
      await t.app.inject({ method: 'POST', url: '/upload/jobs', ...csv('1,Engineer\n') });
    });
    afterAll(() => t?.close());

    const upload = (table: string, body: { payload: string | Buffer; headers: Record<string, string> }) =>
      t.app.inject({ method: 'POST', url: `/upload/${table}`, ...body });
    const batch = (table: string, payload: string) => t.app.inject({ method: 'POST', url: `/batch/${table}`, ...json(payload) });

    describe('CSV', () => {
      it('invalid UTF-8 (a stray byte, an overlong form, an encoded surrogate): 400, nothing stored', async () => {
        for (const bytes of [[0xff], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xe2, 0x82]]) {
          const res = await upload(
            'hired_employees',
            csv(
              Buffer.concat([
                Buffer.from('5,Ann,2021-01-01T00:00:00Z,1,1\n6,'),
                Buffer.from(bytes),
                Buffer.from(',2021-01-01T00:00:00Z,1,1\n'),
              ]),
            ),
          );
          expect(res.statusCode, bytes.join()).toBe(400);
          expect(res.json().error).toBe('CSV_MALFORMED');
        }
        expect((await counts(t.app)).hired_employees).toBe(0);
      });

      it('NUL bytes: that row rejected with its reason, the others stored', async () => {
        const res = await upload('hired_employees', csv('5,Ann\u0000Lee,2021-01-01T00:00:00Z,1,1\n6,Bob,2021-01-01T00:00:00Z,1,1\n'));
        expect(res.json()).toMatchObject({ inserted: 1, rejected: 1, errors: [{ line: 1, reason: 'name contains a NUL character' }] });
      });

      it('a lone \\r ends a line', async () => {
        const res = await upload('jobs', csv('2,Clerk\r3,Driver\r4,Cook'));
        expect(res.json()).toMatchObject({ inserted: 3, rejected: 0 });
      });

      it('an unterminated quote: 400 with the line where the field opened, nothing stored', async () => {
        const res = await upload('jobs', csv('10,ok\n11,"never closed\n12,more\n'));
        expect(res.statusCode).toBe(400);
        expect(res.json()).toMatchObject({ error: 'CSV_MALFORMED', details: { line: 2 } });
        expect((await counts(t.app)).jobs).toBe(4);
      });

      it('10,000 columns: 400 (CSV_MAX_FIELDS), nothing stored', async () => {
        const res = await upload('jobs', csv(`20,ok\n21,${'c,'.repeat(9998)}c\n`));
        expect(res.statusCode).toBe(400);
        expect(res.json()).toMatchObject({ error: 'CSV_MALFORMED', details: { line: 2 } });
      });

      it('a 10 MB line: 400 (CSV_MAX_RECORD_BYTES), nothing stored', async () => {
        const res = await upload('jobs', csv(`30,ok\n31,${'x'.repeat(10 * 2 ** 20)}\n`));
        expect(res.statusCode).toBe(400);
        expect(res.json()).toMatchObject({ error: 'CSV_MALFORMED', details: { line: 2 } });
        expect((await counts(t.app)).jobs).toBe(4);
      });

      it('a gzip bomb sent as CSV (raw or multipart) is read as the bytes it is: 400, never inflated', async () => {
        const bomb = gzipSync(Buffer.alloc(64 * 2 ** 20, '1,a\n'), { level: 9 });
        expect(bomb.length).toBeLessThan(200_000);
        for (const body of [csv(bomb), multipart(bomb, { filename: 'jobs.csv.gz' })]) {
          const res = await upload('jobs', body);
          expect(res.statusCode).toBe(400);
          expect(res.json().error).toBe('CSV_MALFORMED');
        }
      });

      it('ids ≤ 0 or beyond 2^53, and years 0 and 10000: each row rejected with its reason', async () => {
        const res = await upload(
          'hired_employees',
          csv(
            [
              '0,Zero,2021-01-01T00:00:00Z,1,1',
              '-7,Neg,2021-01-01T00:00:00Z,1,1',
              '9007199254740993,Big,2021-01-01T00:00:00Z,1,1',
              '40,Dept,2021-01-01T00:00:00Z,-1,1',
              '41,Year0,0000-01-01T00:00:00Z,1,1',
              '42,Year10000,10000-01-01T00:00:00Z,1,1',
              '43,Plus,+010000-01-01T00:00:00Z,1,1',
              '44,Ok,2021-01-01T00:00:00Z,1,1',
            ].join('\n'),
          ),
        );
        expect(res.statusCode).toBe(200);
        const body = res.json();
        expect(body).toMatchObject({ inserted: 1, rejected: 7 });
        expect(body.errors.map((e: { line: number }) => e.line)).toEqual([1, 2, 3, 4, 5, 6, 7]);
      });
    });

    describe('JSON (POST /batch)', () => {
      it('deep nesting, anywhere in the body: 400, not a crash', async () => {
        const deep = (n: number) => '['.repeat(n) + ']'.repeat(n);
        for (const body of [
          `[${deep(100_000)}]`,
          `[{"id":1,"department":${deep(50_000)}}]`,
          `[${'{"a":'.repeat(50_000)}1${'}'.repeat(50_000)}]`,
        ]) {
          const res = await batch('departments', body);
          expect(res.statusCode).toBe(400);
          expect(res.json().error).toBe('ROWS_INVALID');
        }
      });

      it('duplicate keys: the last one counts, as JSON.parse reads them', async () => {
        expect((await batch('departments', '[{"id":50,"department":"first","department":"second"}]')).statusCode).toBe(201);
        expect(
          (await batch('hired_employees', '[{"id":500,"name":"N","datetime":"2021-02-01T00:00:00Z","department_id":50,"job_id":1}]'))
            .statusCode,
        ).toBe(201);
        const report = (await t.app.inject('/metrics/hired-employees?year=2021')).json() as { department: string }[];
        expect(report.map((r) => r.department)).toContain('second');
        expect(report.map((r) => r.department)).not.toContain('first');
      });

      it('numbers beyond 2^53, non-integers, ids ≤ 0, years 0 and 10000, strings for numbers: 400 with each field', async () => {
        const row = (fields: Record<string, unknown>) => ({
          id: 600,
          name: 'N',
          datetime: '2021-02-01T00:00:00Z',
          department_id: 1,
          job_id: 1,
          ...fields,
        });
        const cases: [Record<string, unknown> | string, string][] = [
          ['{"id":9007199254740993,"name":"N","datetime":"2021-02-01T00:00:00Z","department_id":1,"job_id":1}', 'id'],
          ['{"id":1e400,"name":"N","datetime":"2021-02-01T00:00:00Z","department_id":1,"job_id":1}', 'id'],
          [row({ id: 0 }), 'id'],
          [row({ id: -5 }), 'id'],
          [row({ id: 1.5 }), 'id'],
          [row({ id: '600' }), 'id'],
          [row({ department_id: 0 }), 'department_id'],
          [row({ datetime: '0000-01-01T00:00:00Z' }), 'datetime'],
          [row({ datetime: '10000-01-01T00:00:00Z' }), 'datetime'],
          [row({ datetime: '+010000-01-01T00:00:00Z' }), 'datetime'],
          [row({ name: 'lone \ud800 surrogate' }), 'name'],
          [row({ name: 'nul \u0000 inside' }), 'name'],
        ];
        for (const [input, field] of cases) {
          const res = await batch('hired_employees', `[${typeof input === 'string' ? input : JSON.stringify(input)}]`);
          expect(res.statusCode, JSON.stringify(input)).toBe(400);
          expect(res.json().details, JSON.stringify(input)).toEqual([expect.objectContaining({ index: 0, field })]);
        }
      });

      it('prototype pollution keys, wrong shapes, and 20,000 unknown keys: 400', async () => {
        const many = `[{${[...Array(20_000).keys()].map((i) => `"k${i}":1`).join(',')}}]`;
        for (const body of [
          '[{"id":1,"department":"a","__proto__":{"x":1}}]',
          '[{"constructor":{"prototype":{"x":1}}}]',
          'null',
          '{}',
          '"x"',
          '[]',
          '',
          many,
        ]) {
          const res = await batch('departments', body);
          expect(res.statusCode, body.slice(0, 40)).toBe(400);
        }
        expect(({} as Record<string, unknown>).x).toBeUndefined();
      });

      it('leaves the server serving and the stored rows exactly the accepted ones', async () => {
        expect((await t.app.inject('/health')).statusCode).toBe(200);
        expect(await counts(t.app)).toEqual({ departments: 2, jobs: 4, hired_employees: 3 });
      });
    });
  });
}
