/**
 * A backup's export as Avro records (Store#exportAvro): on PostgreSQL COPY's text turned straight
 * into record bytes (copy-avro.ts), on SQLite rows through the record writer. Both are read back
 * by the hand-written reader of test/backup/avro-reader.ts, and compared with the rows put in.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyAvroConverter } from '../../src/store/postgres/copy-avro.js';
import { EXPORT_PAGE_ROWS } from '../../src/store/postgres/postgres-backup.js';
import { TABLES, type Row } from '../../src/tables.js';
import { readContainer } from '../backup/avro-reader.js';
import { startApp, type TestApp } from '../helpers/app.js';
import { BACKENDS } from '../helpers/backends.js';
import { NAMES } from '../helpers/awkward-names.js';

/** More than two of PostgreSQL's COPY pages; NULLs in every nullable column in turn. */
const ROWS: Row[] = Array.from({ length: 2 * EXPORT_PAGE_ROWS + 1000 }, (_, i): Row => {
  const id = 3 * i + 1; // gaps between ids: keyset pages must not count on them
  const millis = Date.UTC(2021, 0, 1) + i * 3_600_123;
  return [
    id,
    NAMES[i % NAMES.length]!,
    i % 7 === 3 ? null : new Date(millis).toISOString(),
    i % 11 === 5 ? null : 1 + (i % 3),
    i % 13 === 6 ? null : 2_147_483_000 + (i % 3),
  ];
});

const expected = ROWS.map((r) => ({
  id: r[0],
  name: r[1],
  datetime: r[2] === null ? null : Date.parse(r[2] as string),
  department_id: r[3],
  job_id: r[4],
}));

async function* pages(rows: readonly Row[], size = 700): AsyncIterable<readonly Row[]> {
  for (let i = 0; i < rows.length; i += size) yield rows.slice(i, i + size);
}

for (const backend of BACKENDS) {
  describe.skipIf(!backend.available)(`a backup's records straight from the store [${backend.name}]`, () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await startApp(backend);
      await t.app.store.importRows(TABLES.hired_employees, pages(ROWS), 'replace');
    });
    afterAll(() => t?.close());

    it('GET /backup/hired_employees holds every row as put in: escapes undone, UTF-8 kept, NULLs, ids past one page', async () => {
      const res = await t.app.inject('/backup/hired_employees');
      expect(res.statusCode).toBe(200);
      const file = readContainer(res.rawPayload);
      expect(file.records).toHaveLength(ROWS.length);
      expect(file.records).toEqual(expected);
      // Pages are gathered into blocks of at least 64 KiB: a few blocks, not one per page.
      expect(file.blocks).toBeGreaterThan(1);
      expect(file.blocks).toBeLessThan(20);
    });

    it('a table of exactly two pages (the last page full): every row once', async () => {
      const jobs = Array.from({ length: 2 * EXPORT_PAGE_ROWS }, (_, i): Row => [5 * i + 2, `Job ${i}`]);
      await t.app.store.importRows(TABLES.jobs, pages(jobs, 1000), 'replace');
      const res = await t.app.inject('/backup/jobs');
      expect(res.statusCode).toBe(200);
      expect(readContainer(res.rawPayload).records).toEqual(jobs.map(([id, job]) => ({ id, job })));
    });

    it('an empty table gives a file with no records', async () => {
      const res = await t.app.inject('/backup/departments');
      expect(res.statusCode).toBe(200);
      expect(readContainer(res.rawPayload).records).toEqual([]);
    });
  });
}

describe('copyAvroConverter refuses COPY text that does not match the columns', () => {
  const table = TABLES.departments;
  it.each([
    ['a NULL key', '\\N\tSales\n', /row 1: NULL in id/],
    ['a row cut short', '1\tSales\n2\tSup', /row 2: the page ends inside a row/],
    ['a key that is not an integer', '1\tSales\nx\tOps\n', /row 2: field 1 is not an integer/],
    ['a field too many', '1\tSales\tmore\n', /row 1: field 2 ends early or late/],
    ['a number past a long', '9007199254740993\tSales\n', /row 1: id is past what a backup can hold/],
  ])('%s', (_what, text, message) => {
    expect(() => copyAvroConverter(table)(Buffer.from(text))).toThrow(message);
  });

  it('reads negative numbers and gives the last key', () => {
    const page = copyAvroConverter(TABLES.jobs)(Buffer.from('-5\tA\n7\t\\N\n'));
    expect(page).toMatchObject({ count: 2, lastKey: 7 });
    // -5 zig-zag is 9; 7 is 14; then the union branches: 2 + string "A", and 0 for null.
    expect([...page.records]).toEqual([9, 2, 2, 65, 14, 0]);
  });
});
