/**
 * The container this service writes and reads is Avro's, byte for byte where avsc decides the
 * bytes: records as avsc's Type#encode writes them, files avsc's own readers read, and files
 * avsc's BlockEncoder wrote (the encoder of backups taken before this one) read back whole.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import avro from 'avsc';
import { afterAll, describe, expect, it } from 'vitest';
import { avroSchema, headerMetadata } from '../../src/backup/avro-schema.js';
import { decodeBackup } from '../../src/backup/decode.js';
import { encodeBackup } from '../../src/backup/encode.js';
import { recordWriter } from '../../src/backup/record-writer.js';
import { TABLES, type Row, type TableDef } from '../../src/tables.js';

/** A small deterministic generator (mulberry32), so a failure can be replayed. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Stored text is valid UTF-8 (no lone surrogates): ASCII, Latin-1, CJK, astral (surrogate pairs).
const ALPHABET = ['a', 'Z', ' ', '0', 'é', 'ñ', 'Ö', 'ß', '中', '文', '😀', '𝄞', '\\', '\t', '"'];
const MIN_MS = Date.parse('0001-01-01T00:00:00.000Z');
const MAX_MS = Date.parse('9999-12-31T23:59:59.999Z');
const INTEGERS = [1, 2, 63, 64, 127, 128, 8191, 8192, 2 ** 30 - 1, 2 ** 30, 2 ** 31 - 1, 2 ** 31, 2 ** 32 + 5, 2 ** 52, 2 ** 53 - 2];

function randomRows(table: TableDef, n: number, next: () => number): Row[] {
  const pick = <T>(list: readonly T[]): T => list[Math.floor(next() * list.length)]!;
  return Array.from({ length: n }, (_, r) =>
    table.columns.map((c): Row[number] => {
      if (!c.primaryKey && next() < 0.15) return null;
      if (c.type === 'integer') return next() < 0.5 ? pick(INTEGERS) : 1 + Math.floor(next() * 1e6) + r;
      if (c.type === 'datetime') return new Date(MIN_MS + Math.floor(next() * (MAX_MS - MIN_MS))).toISOString();
      // Lengths around the one-byte length prefix (63 bytes) and past 128 characters.
      const length = pick([0, 1, 20, 21, 22, 31, 32, 63, 64, 65, 130, 300]);
      return Array.from({ length }, () => pick(ALPHABET)).join('');
    }),
  );
}

/** A row as the record avsc encodes for the table's schema (datetimes as epoch milliseconds). */
const asRecord = (table: TableDef, row: Row): Record<string, unknown> =>
  Object.fromEntries(
    table.columns.map((c, i) => [c.name, c.type === 'datetime' && row[i] !== null ? Date.parse(row[i] as string) : row[i]]),
  );

/** All the pages of a decode, as rows. */
async function decodeAll(file: Buffer, table: TableDef, chunk = 64 * 1024): Promise<Row[]> {
  const chunks: Buffer[] = [];
  for (let i = 0; i < file.length; i += chunk) chunks.push(file.subarray(i, i + chunk));
  const rows: Row[] = [];
  for await (const page of decodeBackup(Readable.from(chunks), table)) rows.push(...page);
  return rows;
}

async function encodeAll(table: TableDef, pages: readonly Row[][]): Promise<Buffer> {
  async function* source(): AsyncIterable<Row[]> {
    yield* pages;
  }
  const chunks: Buffer[] = [];
  for await (const chunk of encodeBackup(table, source())) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** A file written as the encoder before this one wrote it: avsc's BlockEncoder, a record object per row. */
async function writtenByBlockEncoder(table: TableDef, rows: readonly Row[], opts: { codec: string; blockSize: number }): Promise<Buffer> {
  const encoder = new avro.streams.BlockEncoder(
    avroSchema(table) as avro.schema.AvroSchema,
    {
      codec: opts.codec,
      blockSize: opts.blockSize,
      metadata: headerMetadata(table),
      writeHeader: 'always',
    } as Partial<avro.EncoderOptions>,
  );
  const chunks: Buffer[] = [];
  encoder.on('data', (c: Buffer) => chunks.push(c));
  const done = new Promise((resolve, reject) => encoder.on('end', resolve).on('error', reject));
  for (const row of rows) encoder.write(asRecord(table, row));
  encoder.end();
  await done;
  return Buffer.concat(chunks);
}

/** The records avsc's own BlockDecoder reads from a file. */
async function readWithAvsc(file: Buffer): Promise<{ records: Record<string, unknown>[]; blocks: number }> {
  const decoder = new avro.streams.BlockDecoder();
  const records: Record<string, unknown>[] = [];
  let blocks = 0;
  decoder.on('data', (r: Record<string, unknown>) => records.push({ ...r }));
  decoder.on('block', () => blocks++);
  const done = new Promise((resolve, reject) => decoder.on('end', resolve).on('error', reject));
  decoder.end(file);
  await done;
  return { records, blocks };
}

const dir = mkdtempSync(join(tmpdir(), 'hr-format-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the record writer', () => {
  it.each(Object.values(TABLES).map((t) => [t.name, t] as const))('writes the bytes avsc writes for %s records', (_name, table) => {
    const type = avro.Type.forSchema(avroSchema(table) as avro.schema.AvroSchema);
    const writer = recordWriter(table);
    const next = random(7);
    const rows = randomRows(table, 3000, next);
    const buf = Buffer.alloc(64 * 1024);
    for (const row of rows) {
      const expected = type.toBuffer(asRecord(table, row));
      expect(writer.maxBytes(row)).toBeGreaterThanOrEqual(expected.length);
      const end = writer.write(row, buf, 0);
      expect(buf.subarray(0, end).equals(expected), JSON.stringify(row)).toBe(true);
      // Datetimes given as epoch milliseconds (what a backup asks the store for) write the same bytes.
      const millis = row.map((v, i) => (table.columns[i]!.type === 'datetime' && v !== null ? Date.parse(v as string) : v));
      expect(buf.subarray(0, writer.write(millis, buf, 0)).equals(expected)).toBe(true);
    }
  });

  it('refuses a value its column cannot hold instead of writing a wrong file', () => {
    const writer = recordWriter(TABLES.hired_employees);
    const buf = Buffer.alloc(1024);
    expect(() => writer.write([null, 'a', null, 1, 1], buf, 0)).toThrow(/column id/);
    expect(() => writer.write([1, 'a', 'not an instant', 1, 1], buf, 0)).toThrow(/column datetime/);
    expect(() => writer.write([1.5, 'a', null, 1, 1], buf, 0)).toThrow(/column id/);
    expect(() => writer.write([1, 5, null, 1, 1], buf, 0)).toThrow(/column name/);
    // avsc refuses to read 2^53 - 1 back ("potential precision loss"), as its encoder refused to write it.
    expect(() => writer.write([2 ** 53 - 1, 'a', null, 1, 1], buf, 0)).toThrow(/column id/);
  });
});

describe('files written by encodeBackup', () => {
  const table = TABLES.hired_employees;
  const next = random(11);
  const rows = randomRows(table, 20_000, next);
  // A row far larger than a block (a 100,000-character name) in the middle.
  rows[9000] = [rows[9000]![0]!, 'ö'.repeat(100_000), null, 3, null];
  const pages = Array.from({ length: Math.ceil(rows.length / 999) }, (_, i) => rows.slice(i * 999, (i + 1) * 999));

  it("are read by avsc's BlockDecoder and createFileDecoder: the same records, many blocks", async () => {
    const file = await encodeAll(table, pages);
    const read = await readWithAvsc(file);
    expect(read.blocks).toBeGreaterThan(10);
    expect(read.records).toEqual(rows.map((row) => asRecord(table, row)));
    const path = join(dir, 'encoded.avro');
    writeFileSync(path, file);
    const fromFile: unknown[] = [];
    const header = await new Promise<Record<string, Buffer>>((resolve, reject) => {
      let meta: Record<string, Buffer> = {};
      avro
        .createFileDecoder(path)
        .on('metadata', (_type: unknown, _codec: unknown, h: { meta: Record<string, Buffer> }) => (meta = h.meta))
        .on('data', (r: object) => fromFile.push({ ...r }))
        .on('end', () => resolve(meta))
        .on('error', reject);
    });
    expect(fromFile).toHaveLength(rows.length);
    expect(header['avro.codec']?.toString()).toBe('deflate');
    expect(header['hr.table']?.toString()).toBe('hired_employees');
    expect(JSON.parse(header['avro.schema']!.toString())).toEqual(avroSchema(table));
  });

  it('decode back to the rows, whatever the chunks the bytes arrive in', async () => {
    const file = await encodeAll(table, pages);
    for (const chunk of [1, 7, 4096, 1 << 20]) {
      const sample = chunk === 1 ? await encodeAll(table, [rows.slice(0, 300)]) : file;
      expect(await decodeAll(sample, table, chunk), `chunks of ${chunk}`).toEqual(chunk === 1 ? rows.slice(0, 300) : rows);
    }
  });

  it('of an empty table are a header alone, which decodes to no rows', async () => {
    const file = await encodeAll(table, []);
    expect((await readWithAvsc(file)).records).toEqual([]);
    expect(await decodeAll(file, table)).toEqual([]);
  });
});

describe("files written by avsc's BlockEncoder (backups taken before this encoder)", () => {
  it.each([
    ['deflate', 64 * 1024],
    ['deflate', 512],
    ['null', 64 * 1024],
  ])('decode to the same rows (codec %s, blocks of %i bytes)', async (codec, blockSize) => {
    for (const table of Object.values(TABLES)) {
      const rows = randomRows(table, 5000, random(blockSize));
      const file = await writtenByBlockEncoder(table, rows, { codec, blockSize });
      expect(await decodeAll(file, table, 10_000), table.name).toEqual(rows);
    }
  });
});
