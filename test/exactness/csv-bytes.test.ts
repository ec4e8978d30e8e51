/**
 * What an upload makes of the bytes it is sent, on both backends: a literal U+FFFD is data,
 * bytes that are not UTF-8 fail the upload with the file line they are on, the record limit
 * counts UTF-8 bytes, and only ASCII spaces and tabs around integers and instants are ignored.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type TestApp } from '../helpers/app.js';
import { BACKENDS } from '../helpers/backends.js';

for (const backend of BACKENDS) {
  describe.skipIf(!backend.available)(`CSV bytes [${backend.name}]`, () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await startApp(backend);
    });
    afterAll(() => t.close());

    const upload = (table: string, body: Buffer | string) =>
      t.app.inject({ method: 'POST', url: `/upload/${table}`, payload: body, headers: { 'content-type': 'text/csv' } });
    const reset = () => t.app.store.reset();
    const stored = async (table: string, column: string) =>
      (await t.app.store.query(`SELECT id, ${column} AS v FROM ${table} ORDER BY id`, [])).map((r) => [Number(r.id), r.v]);
    const counts = async () => (await t.app.store.countRows()).map((c) => c.rows);

    it('stores a U+FFFD sent as its UTF-8 bytes (EF BF BD), as csv-spectrum’s location_coordinates.csv has', async () => {
      await reset();
      const body = Buffer.concat([
        Buffer.from('1,'),
        Buffer.from([0xef, 0xbf, 0xbd]),
        Buffer.from(' 40.7\u00b0N\n2,Caf'),
        Buffer.from([0xc3, 0xa9, 0xef, 0xbf, 0xbd]),
        Buffer.from('\n'),
      ]);
      const res = await upload('departments', body);
      expect(res.json()).toMatchObject({ received: 2, inserted: 2, rejected: 0 });
      expect(await stored('departments', 'department')).toEqual([
        [1, '\uFFFD 40.7\u00b0N'],
        [2, 'Caf\u00e9\uFFFD'],
      ]);
    });

    const lines = (n: number, eol: string) => Array.from({ length: n }, (_, i) => `${i + 1},Department ${i + 1}${eol}`).join('');

    it.each([
      ['LF', '\n'],
      ['CRLF', '\r\n'],
      ['CR', '\r'],
    ])(
      'a byte that is not UTF-8 on line 20,001 (%s line ends) → 400 CSV_MALFORMED, details.line 20001, nothing written',
      async (_name, eol) => {
        await reset();
        const body = Buffer.concat([
          Buffer.from(lines(20_000, eol)),
          Buffer.from('20001,Bad '),
          Buffer.from([0xff]),
          Buffer.from(`x${eol}20002,y${eol}`),
        ]);
        const res = await upload('departments', body);
        expect(res.statusCode).toBe(400);
        expect(res.json()).toMatchObject({ error: 'CSV_MALFORMED', details: { line: 20_001 } });
        expect(res.json().message).toContain('line 20001');
        expect(await counts()).toEqual([0, 0, 0]);
      },
    );

    it('names the line of a truncated character at the very end of the file, and of a bad byte inside a quoted multi-line field', async () => {
      await reset();
      const cut = await upload('departments', Buffer.concat([Buffer.from('1,a\n2,b\n3,c'), Buffer.from([0xe2, 0x82])]));
      expect(cut.json()).toMatchObject({ error: 'CSV_MALFORMED', details: { line: 3 } });
      const quoted = await upload(
        'departments',
        Buffer.concat([Buffer.from('1,a\n2,"first\nsecond\nthird '), Buffer.from([0xc0, 0xaf]), Buffer.from('"\n')]),
      );
      expect(quoted.json()).toMatchObject({ error: 'CSV_MALFORMED', details: { line: 4 } });
      expect(await counts()).toEqual([0, 0, 0]);
    });

    it('counts CSV_MAX_RECORD_BYTES in UTF-8 bytes: 30,000 emoji (120,000 bytes, 60,000 UTF-16 units) are too long', async () => {
      await reset();
      const res = await upload('departments', `1,${'\u{1F600}'.repeat(30_000)}\n`);
      expect(res.statusCode).toBe(400);
      expect(res.json()).toMatchObject({ error: 'CSV_MALFORMED', details: { line: 1 } });
      expect(res.json().message).toContain(`longer than ${t.app.config.CSV_MAX_RECORD_BYTES} bytes`);
      // 16,000 emoji are 64,002 bytes with "1,": within the default 65,536.
      const fits = await upload('departments', `1,${'\u{1F600}'.repeat(16_000)}\n`);
      expect(fits.json()).toMatchObject({ inserted: 1 });
    });

    it('ignores ASCII spaces and tabs around integers and instants, and nothing else (NBSP, a BOM mid-file, other Unicode spaces)', async () => {
      await reset();
      const res = await upload(
        'hired_employees',
        [
          ' 1 ,A, 2021-01-01T00:00:00Z ,\t2\t,3',
          '2,B,2021-01-01T00:00:00Z,  4,5  ',
          '\u00a03,C,2021-01-01T00:00:00Z,1,1',
          '\ufeff4,D,2021-01-01T00:00:00Z,1,1',
          '5,E,\u20032021-01-01T00:00:00Z,1,1',
          '6,F,2021-01-01T00:00:00Z,1\u2028,1',
          '7,G,2021-01-01T00:00:00Z,1,1\u000b',
          '',
        ].join('\n'),
      );
      const report = res.json();
      expect(report).toMatchObject({ received: 7, inserted: 2, rejected: 5 });
      expect(report.errors.map((e: { line: number }) => e.line)).toEqual([3, 4, 5, 6, 7]);
      expect(await stored('hired_employees', 'department_id')).toEqual([
        [1, 2],
        [2, 4],
      ]);
    });
  });
}
