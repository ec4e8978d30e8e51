import { MAX_LONG, writeLong } from '../../backup/record-writer.js';
import type { TableDef } from '../../tables.js';
import type { AvroPage } from '../store.js';
import { BACKSLASH, LF, MINUS, N, TAB, ZERO, withRoom } from '../../lib/bytes.js';

/** COPY TO's backslash sequences (it never writes octal or hex ones): the byte each stands for. */
const UNESCAPE: Record<number, number> = { 98: 8, 102: 12, 110: 10, 114: 13, 116: 9, 118: 11 };
/** Text shorter than this is copied byte by byte: cheaper than a native Buffer#copy call. */
const SHORT_COPY = 32;
/** A field's record bytes beyond its text at most: a union branch and a long (10 bytes at most). */
const FIELD_ROOM = 11;

export interface ConvertedPage extends AvroPage {
  /** The primary key of the page's last row (the next keyset page starts after it). */
  readonly lastKey: number;
  /** The buffer `records` is the start of, whole: `room` when it was large enough. */
  readonly buffer: Buffer<ArrayBuffer>;
}

const malformed = (table: TableDef, row: number, what: string): Error =>
  new Error(`COPY output of ${table.name} does not match its columns at row ${row + 1}: ${what}`);

/**
 * The converter of a table, its column shapes worked out once per export: it turns a page of
 * `COPY … TO STDOUT` output (text format: tab between fields, newline after each row, `\N` for NULL, backslash escapes in text) of `table`'s columns, in dictionary order with
 * datetimes as epoch milliseconds, into the Avro binary records of the table's backup schema
 * (see record-writer.ts: the key a long, every other column a `["null", T]` union). Bytes to
 * bytes: text is UTF-8 on both sides, so a name is copied, never decoded into a string; numbers
 * are read digit by digit. This is the PostgreSQL backup's whole per-row work (before: pg's row
 * parser made a string per field and a number per integer, then the record writer encoded them
 * again).
 */
export function copyAvroConverter(table: TableDef): (text: Buffer, room?: Buffer<ArrayBuffer>) => ConvertedPage {
  const columns = table.columns.map((c) => ({ text: c.type === 'text', nullable: c.primaryKey !== true, key: c.primaryKey === true }));
  return (text, room) => convertPage(table, columns, text, room);
}

interface ColumnShape {
  text: boolean;
  nullable: boolean;
  key: boolean;
}

/** `room`: a buffer to write the records into, replaced by a larger one when it is too small. */
function convertPage(table: TableDef, columns: readonly ColumnShape[], text: Buffer, room?: Buffer<ArrayBuffer>): ConvertedPage {
  const last = columns.length - 1;
  // A page's records are rarely longer than its text (a varint takes fewer bytes than the digits,
  // a branch byte replaces a delimiter; only empty names grow, by one byte): the buffer starts at
  // the text's size and grows when it must. Before, it was twice the text's size up front, which
  // V8 counts towards its old generation until the next full collection: more full collections.
  let out = withRoom(room ?? Buffer.alloc(0), 0, text.length + FIELD_ROOM * columns.length);
  const n = text.length;
  let pos = 0;
  let count = 0;
  let lastKey = Number.NaN;
  let i = 0;
  // A row's record takes at most FIELD_ROOM bytes per field beyond its text, whose own bytes are checked as each is read.
  const rowRoom = FIELD_ROOM * columns.length;
  while (i < n) {
    out = withRoom(out, pos, rowRoom);
    for (let c = 0; c <= last; c++) {
      const column = columns[c]!;
      const end = c === last ? LF : TAB;
      if (text[i] === BACKSLASH && text[i + 1] === N && text[i + 2] === end) {
        if (!column.nullable) throw malformed(table, count, `NULL in ${table.columns[c]!.name}`);
        out[pos++] = 0;
        i += 3;
        continue;
      }
      if (column.nullable) out[pos++] = 2;
      if (column.text) {
        let j = i;
        let escapes = 0;
        for (let b = text[j]; b !== TAB && b !== LF; b = text[j]) {
          if (b === undefined) throw malformed(table, count, 'the page ends inside a row');
          if (b === BACKSLASH) {
            escapes++;
            j++;
          }
          j++;
        }
        if (text[j] !== end) throw malformed(table, count, `field ${c + 1} ends early or late`);
        const length = j - i - escapes;
        out = withRoom(out, pos, rowRoom + length);
        pos = writeLong(out, pos, length);
        if (escapes === 0 && length < SHORT_COPY) {
          for (let k = i; k < j; k++) out[pos++] = text[k]!;
        } else if (escapes === 0) {
          pos += text.copy(out, pos, i, j);
        } else {
          for (let k = i; k < j; k++) {
            const b = text[k]!;
            if (b !== BACKSLASH) out[pos++] = b;
            else {
              const e = text[++k]!;
              out[pos++] = UNESCAPE[e] ?? e;
            }
          }
        }
        i = j + 1;
      } else {
        const negative = text[i] === MINUS;
        let j = negative ? i + 1 : i;
        let value = 0;
        for (let d = text[j]! - ZERO; d >= 0 && d <= 9; d = text[j]! - ZERO) {
          value = value * 10 + d;
          j++;
        }
        if (j === (negative ? i + 1 : i) || text[j] !== end) throw malformed(table, count, `field ${c + 1} is not an integer`);
        if (value > MAX_LONG) throw malformed(table, count, `${table.columns[c]!.name} is past what a backup can hold`);
        if (negative) value = -value;
        pos = writeLong(out, pos, value);
        if (column.key) lastKey = value;
        i = j + 1;
      }
    }
    count++;
  }
  return { records: out.subarray(0, pos), count, lastKey, buffer: out };
}
