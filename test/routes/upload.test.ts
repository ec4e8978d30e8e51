import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS } from '../helpers/backends.js';
import { startApp, type TestApp } from '../helpers/app.js';
import { expectedReports, historical, multipart } from '../helpers/http.js';

const csv = (text: string) => ({ payload: text, headers: { 'content-type': 'text/csv' } });

for (const backend of BACKENDS) {
  describe.skipIf(!backend.available)(`POST /upload/:table [${backend.name}]`, () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await startApp(backend, { UPLOAD_MAX_BYTES: 64 * 1024 * 1024 });
    });
    afterAll(() => t.close());

    const upload = async (table: string, body: { payload: string | Buffer; headers: Record<string, string> }, query = '') =>
      t.app.inject({ method: 'POST', url: `/upload/${table}${query}`, ...body });
    const reset = () => t.app.inject({ method: 'POST', url: '/reset-db' });
    const count = async (table: string) =>
      ((await t.app.inject('/tables')).json() as { tables: { name: string; rows: number }[] }).tables.find((x) => x.name === table)!.rows;

    describe('the historical files', () => {
      it('load as multipart in any order, with the 70 incomplete rows stored, and the reports match an independent computation', async () => {
        await reset();
        const expected = expectedReports();
        const employees = await upload('hired_employees', multipart(historical('hired_employees'), { filename: 'hired_employees.csv' }));
        expect(employees.statusCode).toBe(200);
        expect(employees.json()).toMatchObject({
          table: 'hired_employees',
          status: 'committed',
          received: 1999,
          inserted: 1999,
          updated: 0,
          rejected: 0,
          incomplete: expected.counts.incomplete,
          batch_size: 1000,
          errors: [],
        });
        expect((await upload('departments', multipart(historical('departments')))).json()).toMatchObject({ inserted: 12, rejected: 0 });
        expect((await upload('jobs', multipart(historical('jobs')))).json()).toMatchObject({ inserted: 183, rejected: 0 });

        const tables = (await t.app.inject('/tables')).json();
        expect(tables).toEqual({
          tables: [
            { name: 'departments', rows: expected.counts.departments },
            { name: 'jobs', rows: expected.counts.jobs },
            { name: 'hired_employees', rows: expected.counts.hired_employees },
          ],
        });
        for (const year of [2021, 2022] as const) {
          const quarters = await t.app.inject(`/metrics/hired-employees?year=${year}`);
          expect(quarters.json()).toEqual(expected[`hired_employees_${year}`]);
          const above = await t.app.inject(`/metrics/departments-above-mean?year=${year}`);
          expect(above.json()).toEqual(expected[`departments_above_mean_${year}`]);
        }
        // The default year is 2021.
        expect((await t.app.inject('/metrics/departments-above-mean')).json()).toEqual(expected.departments_above_mean_2021);
      });

      it('load as text/csv through the `employees` alias, in chunks of 7 rows', async () => {
        await reset();
        const res = await upload(
          'employees',
          { payload: historical('hired_employees'), headers: { 'content-type': 'text/csv' } },
          '?batch_size=7',
        );
        expect(res.json()).toMatchObject({ table: 'hired_employees', inserted: 1999, incomplete: 70, batch_size: 7 });
        expect(await count('hired_employees')).toBe(1999);
      });
    });

    describe('CSV dialect', () => {
      it('accepts a BOM, LF, CRLF, blank lines, quoted commas, quotes and newlines, and a last line without newline', async () => {
        await reset();
        const text = '\uFEFF1,"Sales, North"\r\n\r\n2,"Say ""hi"""\n3,"Multi\r\nline"\n\n4,Plain';
        const res = await upload('departments', csv(text));
        expect(res.json()).toMatchObject({ received: 4, inserted: 4, rejected: 0 });
        const rejects = await upload('departments', csv('5,ok\n6,"two\nlines",extra\n7,fine\r\n1,dup'));
        // Line numbers count the lines of the file: record 6 starts on line 2, spans 3, so 7 is on line 4.
        expect(rejects.json().errors).toEqual([
          { line: 2, reason: 'expected 2 fields (id, department), found 3' },
          { line: 5, reason: 'duplicate id 1' },
        ]);
      });

      it('normalizes datetimes with offsets to UTC, so years and quarters are UTC', async () => {
        await reset();
        await upload('departments', csv('1,Sales\n'));
        await upload('jobs', csv('1,Clerk\n'));
        // 2021-03-31T23:30:00-03:00 is 2021-04-01T02:30:00Z: Q2. 2022-01-01T01:00:00+02:00 is 2021-12-31T23:00Z: Q4 2021.
        const res = await upload(
          'hired_employees',
          csv('1,A,2021-03-31T23:30:00-03:00,1,1\n2,B,2022-01-01T01:00:00+02:00,1,1\n3,C,2021-01-01T00:00:00.5Z,1,1\n'),
        );
        expect(res.json()).toMatchObject({ inserted: 3, rejected: 0 });
        expect((await t.app.inject('/metrics/hired-employees?year=2021')).json()).toEqual([
          { department: 'Sales', job: 'Clerk', Q1: 1, Q2: 1, Q3: 0, Q4: 1 },
        ]);
        expect((await t.app.inject('/metrics/hired-employees?year=2022')).json()).toEqual([]);
      });
    });

    describe('row rules', () => {
      it('rejects bad rows with their line and reason, keeps the good ones, and logs every rejected line', async () => {
        await reset();
        const text = [
          '1,Ann,2021-01-01T00:00:00Z,1,1', // 1 ok
          '2,Bob,2021-02-30T10:00:00Z,1,1', // 2 not a real date
          'x,Cid,2021-01-01T00:00:00Z,1,1', // 3 id not an integer
          '4,Dan,2021-01-01T00:00:00Z,one,1', // 4 department_id not an integer
          '5,Eve,2021-01-01T00:00:00Z,1', // 5 four fields
          ',Fay,2021-01-01T00:00:00Z,1,1', // 6 empty id
          '7,,2021-01-01T00:00:00Z,,', // 7 incomplete: stored with NULLs
          '1,Ann again,2021-01-01T00:00:00Z,1,1', // 8 duplicate in the file
          '9,Gus,2021-01-01 10:00:00,1,1', // 9 no offset: not an instant
          '10,Hal,2021-13-01T00:00:00Z,1,1', // 10 month 13
          '11,Ivy,0000-01-01T00:00:00Z,1,1', // 11 year 0
          '12,Jon,2021-06-01T00:00:00Z,0,1', // 12 id 0
        ].join('\n');
        const res = await upload('hired_employees', csv(text));
        const body = res.json();
        expect(res.statusCode).toBe(200);
        expect(body).toMatchObject({ received: 12, inserted: 2, rejected: 10, incomplete: 1 });
        expect(body.errors.map((e: { line: number }) => e.line)).toEqual([2, 3, 4, 5, 6, 8, 9, 10, 11, 12]);
        expect(body.errors[0].reason).toMatch(/datetime is not a valid ISO 8601 instant/);
        expect(body.errors[1].reason).toMatch(/id is not an integer/);
        expect(body.errors[2].reason).toMatch(/department_id is not an integer/);
        expect(body.errors[3].reason).toBe('expected 5 fields (id, name, datetime, department_id, job_id), found 4');
        expect(body.errors[4].reason).toBe('id is empty');
        expect(body.errors[5].reason).toBe('duplicate id 1');
        expect(body.errors[9].reason).toMatch(/department_id must be a positive integer/);

        const log = await t.app.inject(`/uploads/${body.upload_id}`);
        expect(log.json()).toMatchObject({ upload_id: body.upload_id, status: 'committed', rejected: 10, errors: body.errors });
        const rejects = await t.app.inject(`/uploads/${body.upload_id}/rejects.csv`);
        expect(rejects.headers['content-type']).toMatch(/^text\/csv/);
        const lines = text.split('\n');
        expect(rejects.body).toBe([2, 3, 4, 5, 6, 8, 9, 10, 11, 12].map((n) => `${lines[n - 1]}\r\n`).join(''));
        const annotated = await t.app.inject(`/uploads/${body.upload_id}/rejects.csv?annotate=true`);
        expect(annotated.body.split('\r\n')[0]).toBe('line,reason,raw');
        expect(annotated.body.split('\r\n')[1]).toMatch(/^2,/);
      });

      it('rejects a duplicate of a stored id, unless on_conflict=update upserts it', async () => {
        await reset();
        await upload('departments', csv('1,Sales\n2,Legal\n'));
        const again = await upload('departments', csv('2,Legal II\n3,Ops\n'));
        expect(again.json()).toMatchObject({ inserted: 1, updated: 0, rejected: 1, errors: [{ line: 1, reason: 'duplicate id 2' }] });
        const upsert = await upload('departments', csv('2,Legal II\n4,IT\n'), '?on_conflict=update');
        expect(upsert.json()).toMatchObject({ inserted: 1, updated: 1, rejected: 0, on_conflict: 'update' });
        expect(await count('departments')).toBe(4);
      });

      it('strict mode also rejects incomplete rows and unknown references', async () => {
        await reset();
        await upload('departments', csv('1,Sales\n'));
        await upload('jobs', csv('1,Clerk\n'));
        const res = await upload(
          'hired_employees',
          csv('1,A,2021-01-01T00:00:00Z,1,1\n2,B,2021-01-01T00:00:00Z,9,1\n3,C,2021-01-01T00:00:00Z,1,\n'),
          '?strict=true',
        );
        expect(res.json()).toMatchObject({
          inserted: 1,
          rejected: 2,
          strict: true,
          errors: [
            { line: 2, reason: 'department_id 9 does not exist' },
            { line: 3, reason: 'job_id is empty (strict mode)' },
          ],
        });
      });

      it('dry_run validates and reports without writing', async () => {
        await reset();
        const res = await upload('departments', csv('1,Sales\n1,Dup\nx,Bad\n'), '?dry_run=true');
        expect(res.json()).toMatchObject({ status: 'dry_run', dry_run: true, received: 3, inserted: 1, rejected: 2 });
        expect(await count('departments')).toBe(0);
        expect((await t.app.inject(`/uploads/${res.json().upload_id}`)).json()).toMatchObject({ status: 'dry_run', rejected: 2 });
      });
    });

    describe('errors', () => {
      it('answers 404 for an unknown table', async () => {
        const res = await upload('salaries', csv('1,a\n'));
        expect(res.statusCode).toBe(404);
        expect(res.json()).toMatchObject({ error: 'TABLE_NOT_FOUND' });
      });

      it('answers 400 for a multipart body without a file and for an empty file', async () => {
        const noFile = await upload('jobs', multipart('1,a\n', { field: 'document' }));
        expect(noFile.statusCode).toBe(400);
        expect(noFile.json().error).toBe('FILE_MISSING');
        const empty = await upload('jobs', multipart(''));
        expect(empty.statusCode).toBe(400);
        expect(empty.json().error).toBe('FILE_EMPTY');
        const blank = await upload('jobs', csv('\r\n\n'));
        expect(blank.statusCode).toBe(400);
        expect(blank.json().error).toBe('FILE_EMPTY');
      });

      it('answers 415 for other content types', async () => {
        const res = await upload('jobs', { payload: '{"a":1}', headers: { 'content-type': 'application/json' } });
        expect(res.statusCode).toBe(415);
        expect(res.json().error).toBe('UNSUPPORTED_MEDIA_TYPE');
        const xml = await upload('jobs', { payload: '<a/>', headers: { 'content-type': 'application/xml' } });
        expect(xml.statusCode).toBe(415);
      });

      it('answers 400 with the line for an unterminated quote, and writes nothing', async () => {
        await reset();
        const res = await upload('jobs', csv('1,a\n2,b\n3,"never closed\n4,d\n'), '?batch_size=1');
        expect(res.statusCode).toBe(400);
        expect(res.json()).toMatchObject({ error: 'CSV_MALFORMED', details: { line: 3 } });
        expect(res.json().message).toMatch(/line 3/);
        expect(await count('jobs')).toBe(0);
        const log = await t.app.inject(`/uploads/${res.json().details.upload_id}`);
        expect(log.json()).toMatchObject({ status: 'failed' });
      });

      it('logs a failed upload even when it fails before its first record, so details.upload_id always resolves', async () => {
        const res = await upload('jobs', csv('"never closed\n1,a\n'));
        expect(res.statusCode).toBe(400);
        expect(res.json().details.line).toBe(1);
        const log = await t.app.inject(`/uploads/${res.json().details.upload_id}`);
        expect(log.statusCode).toBe(200);
        expect(log.json()).toMatchObject({ status: 'failed', received: 0, message: expect.stringMatching(/line 1/) });
      });

      it('answers 400 for invalid query parameters', async () => {
        const res = await upload('jobs', csv('1,a\n'), '?batch_size=0');
        expect(res.statusCode).toBe(400);
        expect(res.json().error).toBe('VALIDATION_FAILED');
        const conflict = await upload('jobs', csv('1,a\n'), '?on_conflict=merge');
        expect(conflict.statusCode).toBe(400);
      });
    });

    describe('transactions', () => {
      it('answers 413 for a body over the limit and keeps none of its rows, though earlier chunks were written', async () => {
        const small = await startApp(backend, { UPLOAD_MAX_BYTES: 4096 });
        try {
          const rows = Array.from({ length: 2000 }, (_, i) => `${i + 1},Job ${i + 1}`).join('\n');
          for (const body of [csv(rows), multipart(rows)]) {
            const res = await small.app.inject({ method: 'POST', url: '/upload/jobs?batch_size=10', ...body });
            expect(res.statusCode).toBe(413);
            expect(res.json().error).toBe('PAYLOAD_TOO_LARGE');
          }
          expect((await small.app.inject('/tables')).json().tables[1]).toEqual({ name: 'jobs', rows: 0 });
        } finally {
          await small.close();
        }
      });
    });
  });
}
