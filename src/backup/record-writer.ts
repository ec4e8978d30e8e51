import type { ColumnType, Row, TableDef } from '../tables.js';
import { millisFromInstant } from './timestamp.js';

/**
 * Writes one row as the Avro binary record of its table's schema (avro-schema.ts) at `pos` of
 * `buf`, and returns the position after it; `buf` must have `maxBytes(row)` bytes free there.
 */
export interface RecordWriter {
  write(row: Row, buf: Buffer, pos: number): number;
  /** An upper bound of the bytes `row` takes. */
  maxBytes(row: Row): number;
}

/**
 * The largest magnitude avsc reads back as a long ("potential precision loss" past it): 2^53 - 2.
 * A file must restore with the same library that reads it here.
 */
export const MAX_LONG = 9_007_199_254_740_990;
/** A long takes at most 10 bytes (zig-zag varint). */
const LONG_BYTES = 10;
/** Strings shorter than this take at most 63 bytes of UTF-8 (3 per UTF-16 unit): a one-byte length. */
const SHORT_STRING = 21;

/**
 * Avro's long: zig-zag, then 7 bits a byte, low first (the spec). Bit operations up to 2^30,
 * arithmetic beyond (ids and epoch milliseconds may pass 2^31), as avsc's Tap#writeLong does.
 */
export function writeLong(buf: Buffer, pos: number, n: number): number {
  if (n >= -1073741824 && n < 1073741824) {
    let m = n >= 0 ? n << 1 : (~n << 1) | 1;
    while (m > 0x7f) {
      buf[pos++] = (m & 0x7f) | 0x80;
      m >>>= 7;
    }
    buf[pos++] = m;
    return pos;
  }
  let f = n >= 0 ? n * 2 : -n * 2 - 1;
  while (f >= 128) {
    buf[pos++] = (f % 128) | 0x80;
    f = Math.floor(f / 128);
  }
  buf[pos++] = f;
  return pos;
}

/** Avro's string: the UTF-8 byte length as a long, then the bytes. */
function writeString(buf: Buffer, pos: number, s: string): number {
  if (s.length < SHORT_STRING) {
    const written = buf.write(s, pos + 1, 'utf8');
    buf[pos] = written << 1;
    return pos + 1 + written;
  }
  const bytes = Buffer.byteLength(s, 'utf8');
  pos = writeLong(buf, pos, bytes);
  return pos + buf.write(s, pos, 'utf8');
}

const notStorable = (column: string, value: unknown): Error =>
  new TypeError(`column ${column} holds ${JSON.stringify(value)}, which its Avro type cannot hold`);

/**
 * The record writer of a table: written by hand from the schema avroSchema(table) declares (the
 * key a `long`, every other column a `["null", T]` union — branch 0 null, branch 1 the value —,
 * datetimes `timestamp-millis` longs), so that a row goes from its array to the block without a
 * record object and an avsc Tap per row (profiled: a third of the backup's encoding time and
 * much of its garbage). test/backup/record-writer.test.ts checks it writes the very bytes avsc's
 * Type#encode writes for the same records.
 */
export function recordWriter(table: TableDef): RecordWriter {
  const columns = table.columns.map((c) => ({ name: c.name, type: c.type as ColumnType, nullable: c.primaryKey !== true }));
  const write = (row: Row, buf: Buffer, pos: number): number => {
    for (let i = 0; i < columns.length; i++) {
      const column = columns[i]!;
      const value = row[i] ?? null;
      if (column.nullable) {
        if (value === null) {
          buf[pos++] = 0;
          continue;
        }
        buf[pos++] = 2;
      } else if (value === null) {
        throw notStorable(column.name, value);
      }
      if (column.type === 'text') {
        if (typeof value !== 'string') throw notStorable(column.name, value);
        pos = writeString(buf, pos, value);
      } else {
        const n = column.type === 'datetime' ? (typeof value === 'number' ? value : millisFromInstant(String(value))) : value;
        if (typeof n !== 'number' || !Number.isInteger(n) || Math.abs(n) > MAX_LONG) throw notStorable(column.name, value);
        pos = writeLong(buf, pos, n);
      }
    }
    return pos;
  };
  const maxBytes = (row: Row): number => {
    let bytes = 0;
    for (let i = 0; i < columns.length; i++) {
      const value = row[i];
      bytes += 1 + LONG_BYTES + (typeof value === 'string' ? 3 * value.length : 0);
    }
    return bytes;
  };
  return { write, maxBytes };
}
