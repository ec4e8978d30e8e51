/**
 * A backup in the table's own layout, read without avsc: on PostgreSQL its records become COPY
 * text without becoming rows (avro-copy.ts, Store#importRecords); for SQLite they are packed into
 * the load worker's chunks (avro-packed.ts) or read into rows by hand (own-layout.ts). The expected COPY text and
 * table contents are worked out here from the records as written, with Date#toISOString and a
 * small escape function, not with the service's code; files are written with plain avsc (no
 * logical types registered: a `timestamp-millis` is written as the long it is).
 */
import { Readable } from 'node:stream';
import avro from 'avsc';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { avroSchema } from '../../src/backup/avro-schema.js';
import { openBackup } from '../../src/backup/decode.js';
import { isAppError } from '../../src/errors.js';
import { ownLayoutRows } from '../../src/backup/own-layout.js';
import { AvroCopyText } from '../../src/store/postgres/avro-copy.js';
import { AvroCopyBinary } from '../../src/store/postgres/avro-copy-binary.js';
import { AvroPackedPages } from '../../src/store/sqlite/avro-packed.js';
import { unpackPage } from '../../src/store/sqlite/packed-rows.js';
import { TABLES } from '../../src/tables.js';
import { NAMES as AWKWARD } from '../helpers/awkward-names.js';
import { avroFile, BACKUP_BACKENDS, dump, restore, startBackupApp, type BackupApp } from '../backup/setup.js';

const HE = TABLES.hired_employees;
const WRITER = avro.Type.forSchema(avroSchema(HE) as avro.schema.AvroSchema);

interface Hire {
  id: number;
  name: string | null;
  datetime: number | null;
  department_id: number | null;
  job_id: number | null;
}

/** The awkward names, and one of 5 KB with escapes all through it. */
const NAMES = [...AWKWARD, `${'long \\ with\ttabs\n'.repeat(300)}end`];

/** 10,000 hires (more than two pages of 4,096), NULL in each nullable column in turn, edge ids and instants. */
const HIRES: Hire[] = Array.from({ length: 10_000 }, (_, i) => ({
  // avsc writes longs up to 2^53 - 2.
  id: i === 9_999 ? Number.MAX_SAFE_INTEGER - 1 : 2 * i + 1,
  name: NAMES[i % NAMES.length]!,
  datetime: i % 7 === 3 ? null : i === 2 ? Date.UTC(9999, 11, 31, 23, 59, 59, 999) : Date.UTC(2021, 0, 1) + i * 3_600_123,
  department_id: i % 11 === 5 ? null : 1 + (i % 3),
  job_id: i % 13 === 6 ? null : i % 17 === 0 ? 2_147_483_000 : 1 + (i % 5),
}));
// Date.UTC maps years 0–99 to 1900–1999: year 1 set by hand.
HIRES[1]!.datetime = new Date('0001-01-01T00:00:00.000Z').getTime();

const escape = (text: string): string => text.replace(/[\\\t\n\r]/g, (c) => ({ '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' })[c]!);
const field = (value: string | number | null): string =>
  value === null ? '\\N' : typeof value === 'string' ? escape(value) : String(value);
const lines = (rows: readonly (readonly (string | number | null)[])[]): string =>
  rows.map((row) => `${row.map(field).join('\t')}\n`).join('');
const copyText = (hires: readonly Hire[]): string =>
  hires
    .map(
      (h) =>
        `${[h.id, h.name, h.datetime === null ? null : new Date(h.datetime).toISOString(), h.department_id, h.job_id].map(field).join('\t')}\n`,
    )
    .join('');

const block = (records: readonly object[], type: avro.Type = WRITER): Buffer => Buffer.concat(records.map((r) => type.toBuffer(r)));

/**
 * COPY BINARY data back into rows, from PostgreSQL's "Binary Format" page: the signature, flags
 * and extension length, then per tuple a 16-bit field count and per field a 32-bit length (-1:
 * NULL) and its bytes, -1 at the end. hired_employees' columns: int8, text, timestamptz
 * (microseconds since 2000-01-01 UTC, as BigInt here), int8, int8.
 */
function fromCopyBinary(data: Buffer): (string | number | null)[][] {
  expect(data.subarray(0, 11)).toEqual(Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1'));
  expect(data.readInt32BE(11)).toBe(0);
  let at = 15 + 4 + data.readInt32BE(15);
  const rows: (string | number | null)[][] = [];
  for (;;) {
    const fields = data.readInt16BE(at);
    at += 2;
    if (fields === -1) break;
    expect(fields).toBe(HE.columns.length);
    const row: (string | number | null)[] = [];
    for (let c = 0; c < fields; c++) {
      const length = data.readInt32BE(at);
      at += 4;
      if (length === -1) {
        row.push(null);
        continue;
      }
      const bytes = data.subarray(at, at + length);
      at += length;
      const type = HE.columns[c]!.type;
      if (type === 'text') row.push(bytes.toString('utf8'));
      else if (type === 'datetime') row.push(new Date(Number(bytes.readBigInt64BE(0) / 1000n) + Date.UTC(2000, 0, 1)).toISOString());
      else row.push(Number(bytes.readBigInt64BE(0)));
    }
    rows.push(row);
  }
  expect(at).toBe(data.length);
  return rows;
}

/**
 * The readers of the own layout, each giving a block's records as COPY text: PostgreSQL's
 * converter as it is, the rows SQLite gets formatted here by `field`.
 */
const READERS: [string, (records: Buffer, count: number) => Promise<string>][] = [
  [
    'Avro to COPY text (avro-copy.ts)',
    async (records, count) => {
      const pieces = [];
      for await (const piece of new AvroCopyText(HE).text(Readable.from([{ records, count, first: 1 }]))) pieces.push(piece);
      return Buffer.concat(pieces).toString('utf8');
    },
  ],
  [
    'Avro to COPY BINARY (avro-copy-binary.ts), read back by the format as PostgreSQL documents it',
    async (records, count) => {
      const pieces = [];
      for await (const piece of new AvroCopyBinary(HE).data(Readable.from([{ records, count, first: 1 }]))) pieces.push(piece);
      return lines(fromCopyBinary(Buffer.concat(pieces)));
    },
  ],
  [
    'Avro to rows (own-layout.ts)',
    async (records, count) => {
      const rows = [];
      for await (const page of ownLayoutRows(HE, Readable.from([{ records, count, first: 1 }]))) rows.push(...page);
      return lines(rows);
    },
  ],
  [
    "Avro to the SQLite load worker's chunks (avro-packed.ts)",
    async (records, count) => {
      const rows = [];
      for await (const chunk of new AvroPackedPages(HE).pages(Readable.from([{ records, count, first: 1 }])))
        rows.push(...unpackPage(HE, chunk));
      return lines(rows);
    },
  ],
];

describe("a backup in the table's own layout", () => {
  it("takes the files of the table's own layout (ours, or the same schema written by another tool), and no other", async () => {
    const layout = async (schema: object, record: object = HIRES[0]!) => {
      const backup = await openBackup(Readable.from([await avroFile(schema, [record])]), HE);
      backup.close();
      return backup.ownLayout;
    };
    const own = avroSchema(HE);
    const fields = own.fields as { name: string; type: unknown }[];
    const changed = (name: string, type: unknown) => ({ ...own, fields: fields.map((f) => (f.name === name ? { name, type } : f)) });
    expect(await layout(own)).toBe(true);
    expect(await layout({ ...own, name: 'com.example.hired_employees', doc: 'another tool' })).toBe(true);
    expect(await layout(changed('id', 'int'))).toBe(false);
    expect(await layout(changed('job_id', ['null', 'int']))).toBe(false);
    expect(
      await layout(changed('datetime', ['null', { type: 'long', logicalType: 'timestamp-micros' }]), {
        ...HIRES[0],
        datetime: 1000 * HIRES[0]!.datetime!,
      }),
    ).toBe(false);
    expect(await layout(changed('name', 'string'), { ...HIRES[0], name: 'x' })).toBe(false);
    expect(await layout({ ...own, fields: [...fields.slice(0, 2), fields[3], fields[2], fields[4]] })).toBe(false);
  });
});

for (const [label, convert] of READERS) {
  const refusal = async (records: Buffer, count: number): Promise<{ message: string; details: Record<string, unknown> }> => {
    try {
      await convert(records, count);
    } catch (error) {
      if (!isAppError(error) || error.code !== 'BACKUP_INVALID') throw error;
      return { message: error.message, details: error.details as Record<string, unknown> };
    }
    throw new Error('not refused');
  };

  describe(label, () => {
    it('writes every record as COPY text: escapes, NULLs, ids up to 2^53 - 2, instants of years 0001 and 9999', async () => {
      expect(await convert(block(HIRES), HIRES.length)).toBe(copyText(HIRES));
    });

    it('reads a string that is not UTF-8 as avsc does (U+FFFD), escaping it still', async () => {
      const bad = Buffer.from([0x41, 0xff, 0x09, 0xc3]);
      const bytesName = avro.Type.forSchema({
        type: 'record',
        name: 'x',
        fields: (avroSchema(HE).fields as { name: string; type: unknown }[]).map((f) =>
          f.name === 'name' ? { name: 'name', type: ['null', 'bytes'] } : f,
        ),
      } as avro.schema.AvroSchema);
      const record = bytesName.toBuffer({ ...HIRES[0], name: bad });
      const asAvsc = (WRITER.fromBuffer(record) as Hire).name!;
      expect(asAvsc).toContain('\uFFFD');
      expect(await convert(record, 1)).toBe(copyText([{ ...HIRES[0]!, name: asAvsc }]));
    });

    it('refuses what the table cannot hold, naming the record and the column', async () => {
      const refused = (hire: Partial<Hire>) => refusal(block([HIRES[0]!, HIRES[3]!, { ...HIRES[4]!, ...hire }]), 3);
      expect((await refused({ id: 0 })).details).toMatchObject({ record: 3, field: 'id' });
      expect((await refused({ id: -5 })).details).toMatchObject({ record: 3, field: 'id' });
      expect((await refused({ department_id: 0 })).details).toMatchObject({ record: 3, field: 'department_id' });
      expect((await refused({ name: 'nul\u0000here' })).details).toMatchObject({ record: 3, field: 'name' });
      const future = await refused({ datetime: Date.UTC(10_000, 0, 1) });
      expect(future.details).toMatchObject({ record: 3, field: 'datetime' });
      expect(future.message).toMatch(/years 0001–9999/);
    });

    it('refuses broken record bytes: a union branch past the two, a block cut inside a record, bytes after the last, a varint past 2^53', async () => {
      const one = WRITER.toBuffer(HIRES[0]);
      // Byte 1 is the name's union branch (the id, 1, takes one byte): branch 2.
      const branch = Buffer.from(one);
      branch[1] = 4;
      expect((await refusal(branch, 1)).details).toMatchObject({ record: 1, field: 'name' });
      expect(await refusal(Buffer.concat([one, one.subarray(0, 5)]), 2)).toMatchObject({
        message: expect.stringMatching(/record 2: its block ends inside it/),
      });
      expect((await refusal(Buffer.concat([one, Buffer.from([0])]), 1)).message).toMatch(/1 bytes follow record 1/);
      const long = Buffer.concat([Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]), one.subarray(1)]);
      expect((await refusal(long, 1)).message).toMatch(/record 1: a long is past 2\^53/);
    });
  });
}

/** The table holds HIRES as written: ids, names, instants to the millisecond, department and job. */
function expectHires(stored: Awaited<ReturnType<typeof dump>>): void {
  expect(
    stored.hired_employees!.map((r) => [Number(r.id), r.name, r.ms === null ? null : Number(r.ms), r.department_id, r.job_id]),
  ).toEqual(HIRES.map((h) => [h.id, h.name, h.datetime, h.department_id, h.job_id]));
}

for (const { label, backend } of BACKUP_BACKENDS) {
  describe.skipIf(!backend.available)(`a backup in the table's own layout restores exactly [${label}]`, () => {
    let t: BackupApp;
    beforeAll(async () => {
      t = await startBackupApp(backend);
    });
    afterAll(() => t?.close());

    it('every row as written, the counts of the hires as the rows give them; a bad record refused, naming it, nothing changed', async () => {
      const file = await avroFile(avroSchema(HE), HIRES);
      const res = await restore(t.app, 'hired_employees', file);
      expect(res.statusCode, res.body).toBe(200);
      const stored = await dump(t.store);
      expectHires(stored);
      const counts = new Map<string, number>();
      for (const h of HIRES) {
        if (h.datetime === null || h.department_id === null) continue;
        const d = new Date(h.datetime);
        const key = [d.getUTCFullYear(), Math.floor(d.getUTCMonth() / 3) + 1, h.department_id, h.job_id ?? 0].join('|');
        counts.set(key, (counts.get(key) ?? 0) + 1);
      }
      const expected = [...counts]
        .map(([key, hires]) => [...key.split('|').map(Number), hires])
        .sort((a, b) => a[0]! - b[0]! || a[1]! - b[1]! || a[2]! - b[2]! || a[3]! - b[3]!);
      expect(stored.hire_counts!.map((r) => [r.year, r.quarter, r.department_id, r.job_id, r.hires].map(Number))).toEqual(expected);

      const bad = await avroFile(avroSchema(HE), [...HIRES.slice(0, 5000), { ...HIRES[5000]!, id: 0 }]);
      const refused = await restore(t.app, 'hired_employees', bad);
      expect(refused.statusCode).toBe(400);
      expect(refused.json()).toMatchObject({ error: 'BACKUP_INVALID', details: { record: 5001, field: 'id' } });
      expect(await dump(t.store)).toEqual(stored);
    });
  });
}

const postgres = BACKUP_BACKENDS.find((b) => b.label === 'postgres');
describe.skipIf(postgres === undefined || !postgres.backend.available)('a table whose column a DBA altered [postgres]', () => {
  let t: BackupApp;
  beforeAll(async () => {
    t = await startBackupApp(postgres!.backend);
  });
  afterAll(() => t?.close());

  // int8 binary data into an integer column would be refused ("incorrect binary data format").
  it('restores as COPY text, PostgreSQL converting each field: the binary form is only for our own types', async () => {
    const client = new pg.Client({ connectionString: t.db.url });
    await client.connect();
    try {
      await client.query('ALTER TABLE hired_employees ALTER COLUMN department_id TYPE integer');
    } finally {
      await client.end();
    }
    const file = await avroFile(avroSchema(HE), HIRES);
    const res = await restore(t.app, 'hired_employees', file);
    expect(res.statusCode, res.body).toBe(200);
    expectHires(await dump(t.store));
  });
});
