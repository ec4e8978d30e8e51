/**
 * The byte path of a PostgreSQL load (copy-scan.ts) must answer exactly what the general path
 * answers (csv-records.ts, then row-rules.ts, then the COPY line of the accepted values): the
 * same accepted rows with the same values, lines and incomplete marks, the same rejected lines
 * with the same reasons. Two checks: the scanner alone against the general path, on files of
 * lines chosen to sit on every edge the two could disagree on; and whole uploads into a real
 * PostgreSQL (byte path, with bodies cut at random places) against the same uploads into SQLite
 * (general path only).
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CopyScanner, mayScan } from '../../src/ingest/copy-scan.js';
import { CsvRecordReader } from '../../src/ingest/csv-records.js';
import { checkFields } from '../../src/ingest/row-rules.js';
import { ingestCsv } from '../../src/ingest/upload.js';
import { copyLineFor } from '../../src/store/postgres/copy-text.js';
import { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { Rejection, Store } from '../../src/store/store.js';
import { TABLES, type TableDef } from '../../src/tables.js';
import type { TestDatabase } from '../helpers/backends.js';
import { postgresBackend } from '../helpers/postgres.js';

const EMPLOYEES = TABLES.hired_employees;
const MAX_RECORD_BYTES = 200;

/** Fields on the edges of each rule: valid plain shapes, other valid shapes, invalid ones. */
const integerField = fc.constantFrom(
  '',
  '0',
  '00',
  '7',
  '007',
  '42',
  '+3',
  '-3',
  ' 5',
  '5\t',
  '1e3',
  '٣',
  '123456789012345',
  '1234567890123456',
  '9007199254740993',
  'x',
);
const textField = fc.oneof(
  fc.constantFrom(
    '',
    'Harold Vogt',
    'Zoë Ñúñez',
    '王小明',
    '😀 emoji',
    'back\\slash',
    'tab\there',
    'nul\u0000byte',
    ' padded ',
    '\uFEFFbom',
    '\\N',
  ),
  fc.string({ maxLength: 12 }).map((s) => s.replace(/[",\r\n]/g, '')),
);
const instantField = fc.constantFrom(
  '',
  '2021-11-07T02:48:42Z',
  '2020-02-29T23:59:59Z',
  '2021-02-29T10:00:00Z',
  '2021-04-31T10:00:00Z',
  '2021-13-01T10:00:00Z',
  '2021-01-01T24:00:00Z',
  '0000-01-01T00:00:00Z',
  '2021-01-01t10:00:00Z',
  '2021-01-01 10:00:00Z',
  '2021-01-01T10:00:00z',
  '2021-01-01T10:00:00+02:00',
  '2021-12-31T23:30:00-01:00',
  '2021-06-01T10:00:00.123456Z',
  '2021-06-01T10:00Z',
  '2021-06-01T10:00:00',
  ' 2021-06-01T10:00:00Z',
  'yesterday',
);
const employeeLine = fc.oneof(
  { weight: 6, arbitrary: fc.tuple(integerField, textField, instantField, integerField, integerField).map((f) => f.join(',')) },
  { weight: 1, arbitrary: fc.tuple(integerField, textField, instantField).map((f) => f.join(',')) },
  {
    weight: 1,
    arbitrary: fc.tuple(integerField, textField, instantField, integerField, integerField, integerField).map((f) => f.join(',')),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      '',
      ' ',
      ',,,,',
      '1,a,2021-01-01T00:00:00Z,1,1,',
      `9,${'x'.repeat(MAX_RECORD_BYTES - 40)},2021-01-01T00:00:00Z,1,1`,
    ),
  },
);
const lineBreak = fc.constantFrom('\n', '\r\n');

interface Answer {
  accepted: { line: number; raw: string; copy: string; incomplete: boolean }[];
  rejected: Rejection[];
}

/** What the general path answers for a whole file. */
function general(table: TableDef, text: string, strict = false): Answer {
  const reader = new CsvRecordReader(MAX_RECORD_BYTES);
  const copyLine = copyLineFor(table.columns.map((c) => c.type));
  const answer: Answer = { accepted: [], rejected: [] };
  for (const r of [...reader.push(text), ...reader.end()]) {
    const check = checkFields(table, r.fields, strict);
    if (check.ok) answer.accepted.push({ line: r.line, raw: r.raw, copy: copyLine(check.values), incomplete: check.incomplete });
    else answer.rejected.push({ line: r.line, raw: r.raw, reason: check.reason });
  }
  return answer;
}

/** What the scanner answers for the same file given as one part, or undefined when it refuses it. */
function scanned(table: TableDef, text: string, strict = false): Answer | undefined {
  const bytes = Buffer.from(text);
  const scanner = new CopyScanner(table, { strict, maxRecordBytes: MAX_RECORD_BYTES }, (line) =>
    checkFields(table, line.split(','), strict),
  );
  const part = scanner.scan(bytes, 1);
  if (part === undefined) return undefined;
  const copies = part.text.toString().split('\n');
  const accepted = Array.from({ length: part.count }, (_, i) => ({
    line: Math.floor(part.rows[3 * i]! / 2),
    raw: bytes.toString('utf8', part.rows[3 * i + 1], part.rows[3 * i + 2]),
    copy: `${copies[i]!}\n`,
    incomplete: part.rows[3 * i]! % 2 === 1,
  }));
  expect(part.incomplete).toBe(accepted.filter((a) => a.incomplete).length);
  expect(part.received).toBe(part.count + part.rejected.length);
  return { accepted, rejected: part.rejected };
}

describe('the byte path against the general path, line by line', () => {
  it('accepts and rejects the same lines, with the same values and reasons (hired_employees, departments, strict or not)', () => {
    const departmentLine = fc.tuple(integerField, textField).map((f) => f.join(','));
    fc.assert(
      fc.property(
        fc.constantFrom(EMPLOYEES, TABLES.departments),
        fc.array(fc.tuple(fc.boolean(), lineBreak), { minLength: 1, maxLength: 40 }),
        fc.array(employeeLine, { minLength: 40, maxLength: 40 }),
        fc.array(departmentLine, { minLength: 40, maxLength: 40 }),
        fc.boolean(),
        (table, shape, employees, departments, strict) => {
          const lines = table === EMPLOYEES ? employees : departments;
          const text = shape.map(([, br], i) => lines[i]! + br).join('');
          const expected = general(table, text, strict);
          const actual = scanned(table, text, strict);
          expect(actual).toEqual(expected);
        },
      ),
      { numRuns: 400 },
    );
  });

  it('refuses a part with a lone CR, which the general reader takes as a line break', () => {
    const text = '1,Ann,2021-01-01T00:00:00Z,1,1\r\n2,Bo\rb,2021-01-01T00:00:00Z,1,1\n';
    expect(scanned(EMPLOYEES, text)).toBeUndefined();
    expect(general(EMPLOYEES, text).rejected.map((r) => r.line)).toEqual([2, 3]);
    expect(scanned(EMPLOYEES, '1,Ann,2021-01-01T00:00:00Z\r,1,1\n')).toBeUndefined();
  });

  it('is never offered a part with a quote: the general reader knows quoted fields', () => {
    expect(mayScan(Buffer.from('1,"Ann",2021-01-01T00:00:00Z,1,1\n'))).toBe(false);
    expect(mayScan(Buffer.from('1,Ann,2021-01-01T00:00:00Z,1,1\n'))).toBe(true);
  });

  it('fails a line longer than the record limit as the general reader does', () => {
    const long = `1,${'é'.repeat(MAX_RECORD_BYTES)},2021-01-01T00:00:00Z,1,1\n`;
    expect(() => scanned(EMPLOYEES, `1,Ann,2021-01-01T00:00:00Z,1,1\n\n${long}`)).toThrow(/^line 3: record longer than 200 bytes$/);
    expect(() => general(EMPLOYEES, `1,Ann,2021-01-01T00:00:00Z,1,1\n\n${long}`)).toThrow(/^line 3: record longer than 200 bytes$/);
  });
});

/** A file body cut into pieces at random places (inside lines, CRLFs and UTF-8 characters). */
function* pieces(bytes: Buffer, seed: number): Iterable<Buffer> {
  let state = seed;
  const next = () => (state = (state * 1103515245 + 12345) % 2 ** 31);
  for (let at = 0; at < bytes.length;) {
    const size = next() % 7 === 0 ? 1 + (next() % 5) : 1 + (next() % 4000);
    yield bytes.subarray(at, (at += size));
  }
}

/** The body in random pieces, or whole (seed 0). */
async function* source(bytes: Buffer, seed: number): AsyncIterable<Buffer> {
  if (seed === 0) yield bytes;
  else for (const piece of pieces(bytes, seed)) yield piece;
}

const stored = (store: Store) =>
  store.query(
    store.dialect === 'postgres'
      ? `SELECT id::text, name, to_char(datetime AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS datetime,
                department_id::text, job_id::text FROM hired_employees ORDER BY id`
      : 'SELECT CAST(id AS TEXT) AS id, name, datetime, CAST(department_id AS TEXT) AS department_id, CAST(job_id AS TEXT) AS job_id FROM hired_employees ORDER BY id',
    [],
  );
const counts = (store: Store) =>
  store.query(
    'SELECT year, quarter, CAST(department_id AS TEXT) AS d, CAST(job_id AS TEXT) AS j, CAST(hires AS TEXT) AS n FROM hire_counts ORDER BY 1, 2, 3, 4',
    [],
  );

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

describe.skipIf(!postgresBackend.available)('uploads into PostgreSQL (byte path) and SQLite (general path) agree', () => {
  let db: TestDatabase;
  let pg: PostgresStore;

  beforeAll(async () => {
    db = await postgresBackend.create();
    pg = new PostgresStore({ connectionString: db.url, poolMax: 3, applyEvery: 500 });
    await pg.migrate();
  });
  afterAll(async () => {
    await pg.close();
    await db.drop();
  });

  /** A file of plain lines with every kind of tricky line among them, duplicates and quoted records included. */
  function file(seed: number, lines: number): Buffer {
    const out: string[] = [];
    const samples = fc.sample(employeeLine, { numRuns: lines, seed });
    const breaks = fc.sample(lineBreak, { numRuns: lines, seed: seed + 1 });
    for (let i = 0; i < lines; i++) {
      const id = i + 1;
      const kind = i % 10;
      // Mostly plain lines with distinct ids; the rest generated, some with a quote or a repeated id.
      if (kind < 6) out.push(`${id},Name ${id} é,2021-0${1 + (i % 9)}-1${i % 10}T0${i % 10}:00:00Z,${1 + (i % 12)},${1 + (i % 200)}`);
      else if (kind === 6 && i % 40 === 6) out.push(`${id},"Quoted, ${id}",2021-03-01T00:00:00Z,1,1`);
      else if (kind === 7 && i % 30 === 7) out.push(`${Math.max(1, id - 25)},Repeat ${id},2021-03-01T00:00:00Z,2,2`);
      else
        out.push(samples[i]!.replace(/^(\+?\d+)/, (m) => (/^\d+$/.test(m) && Number(m) > 0 && Number(m) < 1e15 ? String(100000 + id) : m)));
      out.push(breaks[i]!);
    }
    return Buffer.from(`${seed % 2 === 0 ? '\uFEFF' : ''}${out.join('')}`);
  }

  it.each([1, 2, 3, 4])('file %i: same report, rejects, rows and hire counts', async (seed) => {
    const bytes = file(seed, 3000);
    const sqlite = new SqliteStore({ path: ':memory:' });
    await sqlite.migrate();
    try {
      await pg.reset();
      const options = {
        table: EMPLOYEES,
        batchSize: 700,
        strict: false,
        dryRun: false,
        onConflict: 'reject' as const,
        maxBytes: 1 << 30,
        maxRecordChars: MAX_RECORD_BYTES,
      };
      const ours = await ingestCsv(pg, source(bytes, seed), options);
      const theirs = await ingestCsv(sqlite, source(bytes, 0), options);
      const counted = (r: typeof ours) => ({
        status: r.status,
        received: r.received,
        inserted: r.inserted,
        rejected: r.rejected,
        incomplete: r.incomplete,
      });
      expect(counted(ours)).toEqual(counted(theirs));
      expect(ours.inserted).toBeGreaterThan(1500);
      expect(ours.rejected).toBeGreaterThan(50);
      expect(await collect(pg.rejects(ours.upload_id))).toEqual(await collect(sqlite.rejects(theirs.upload_id)));
      expect(await stored(pg)).toEqual(await stored(sqlite));
      expect(await counts(pg)).toEqual(await counts(sqlite));
    } finally {
      await sqlite.close();
    }
  });

  it('a file larger than the arenas segments hold, with duplicates that make later segments replay', async () => {
    const store = new PostgresStore({ connectionString: db.url, poolMax: 2 });
    const sqlite = new SqliteStore({ path: ':memory:' });
    await sqlite.migrate();
    try {
      await store.reset();
      const lines: string[] = [];
      for (let id = 1; id <= 150_000; id++)
        lines.push(`${id},Person ${id} ${'x'.repeat(id % 40)},2021-0${1 + (id % 9)}-01T00:00:00Z,${1 + (id % 12)},${1 + (id % 180)}`);
      // An id repeated far from its first line (the last), and one whose first line comes early
      // (line 120,001), so that its original at line 150,000 is the duplicate.
      lines.push('77000,Again,2021-05-05T00:00:00Z,3,3');
      lines.splice(120_000, 0, '149999,Early,2021-01-01T00:00:00Z,1,1');
      const bytes = Buffer.from(lines.join('\r\n') + '\r\n');
      const options = {
        table: EMPLOYEES,
        batchSize: 5000,
        strict: false,
        dryRun: false,
        onConflict: 'reject' as const,
        maxBytes: 1 << 30,
        maxRecordChars: MAX_RECORD_BYTES,
      };
      const ours = await ingestCsv(store, source(bytes, 5), options);
      const theirs = await ingestCsv(sqlite, source(bytes, 0), options);
      expect({ inserted: ours.inserted, rejected: ours.rejected }).toEqual({ inserted: 150_000, rejected: 2 });
      expect(await collect(store.rejects(ours.upload_id))).toEqual(await collect(sqlite.rejects(theirs.upload_id)));
      expect((await collect(store.rejects(ours.upload_id))).map((r) => r.line)).toEqual([150_000, 150_002]);
      expect(await stored(store)).toEqual(await stored(sqlite));
      expect(await counts(store)).toEqual(await counts(sqlite));
    } finally {
      await store.close();
      await sqlite.close();
    }
  });
});
