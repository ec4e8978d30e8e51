import { isUtf8 } from 'node:buffer';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { AppError } from '../errors.js';
import type { RecordBlock } from '../store/store.js';
import type { Row, TableDef, Value } from '../tables.js';
import { NUL } from '../lib/bytes.js';
import { instantParts, instantText } from './timestamp.js';

/**
 * Reading records in a table's own backup layout (avro-schema.ts; OpenedBackup#ownLayout) by
 * hand, for the readers that skip avsc: rows (here), COPY text for PostgreSQL
 * (store/postgres/avro-copy.ts) and the SQLite load worker's chunks (store/sqlite/avro-packed.ts).
 * All check a record as one another (RecordCursor): ids positive
 * within 2^53, instants in years 0001–9999, a union branch 0 (null) or 1 (a value), nothing read
 * past the block; the messages are the ones below.
 */

/** What a column's bytes are: the key (a bare long), or a `["null", T]` union of one of these. */
export type ColumnKind = 'key' | 'integer' | 'text' | 'datetime';

export const columnKinds = (table: TableDef): ColumnKind[] => table.columns.map((c) => (c.primaryKey ? 'key' : c.type));

/** Records handed on at once (a page): a block of another writer's may hold many more than ours (~1,300). */
export const PAGE_RECORDS = 4096;

/** A varint of a long within ±2^53 takes at most this many bytes. */
const MAX_VARINT_BYTES = 8;

/** A record that cannot be read or stored; the reader adds its place (recordInvalid). */
export class RecordError extends Error {
  constructor(
    message: string,
    readonly column?: string,
  ) {
    super(message);
  }
}

/** BACKUP_INVALID for record `record` (1-based in the file), naming the column when there is one. */
export function recordInvalid(error: RecordError, record: number): AppError {
  const details = error.column === undefined ? { record } : { record, field: error.column, reason: error.message };
  return new AppError('BACKUP_INVALID', `The file is not a valid Avro backup: record ${record}: ${error.message}`, details);
}

/** BACKUP_INVALID for bytes left in a block after its last record. */
export const trailingBytes = (bytes: number, record: number): AppError =>
  new AppError('BACKUP_INVALID', `The file is not a valid Avro backup: ${bytes} bytes follow record ${record} in its block`, {
    after_records: record,
  });

/** A position in a block's bytes, read a value at a time; no object per value. */
export class RecordCursor {
  data: Buffer = Buffer.alloc(0);
  pos = 0;
  end = 0;

  /** Starts on `data`, from its first byte. */
  reset(data: Buffer): void {
    this.data = data;
    this.pos = 0;
    this.end = data.length;
  }

  /** A zigzag varint long. */
  long(): number {
    const data = this.data;
    let pos = this.pos;
    if (pos >= this.end) throw new RecordError('its block ends inside it');
    let b = data[pos++]!;
    let n = b & 0x7f;
    let scale = 128;
    for (let k = 1; b >= 0x80; k++, scale *= 128) {
      if (k === MAX_VARINT_BYTES) throw new RecordError('a long is past 2^53');
      if (pos >= this.end) throw new RecordError('its block ends inside it');
      b = data[pos++]!;
      n += (b & 0x7f) * scale;
    }
    this.pos = pos;
    return n % 2 === 0 ? n / 2 : -(n + 1) / 2;
  }

  /** A `["null", T]` union's branch: whether a value follows (false: NULL). */
  present(column: string): boolean {
    const branch = this.long();
    if (branch === 0) return false;
    if (branch !== 1) throw new RecordError(`${column} is not null or a value (union branch ${branch})`, column);
    return true;
  }

  /** Where the last textBytes' string lies in `data`, and what it holds. */
  from = 0;
  to = 0;
  /** Every byte below 0x80. */
  ascii = true;
  /** Valid UTF-8 (else read as avsc reads it: U+FFFD for each bad sequence). */
  utf8 = true;

  /**
   * A text column's string: its bytes `data[from, to)`, `pos` moved past them, refused if they
   * hold a NUL (PostgreSQL cannot store it). One pass over the bytes; UTF-8 checked only when a
   * byte is 0x80 or above.
   */
  textBytes(column: string): void {
    const length = this.long();
    if (length < 0 || this.pos + length > this.end) throw new RecordError('its block ends inside it');
    const data = this.data;
    const from = this.pos;
    const to = from + length;
    let ascii = true;
    for (let i = from; i < to; i++) {
      const b = data[i]!;
      if (b === NUL) throw new RecordError(`${column} contains a NUL character`, column);
      if (b >= 0x80) ascii = false;
    }
    this.from = from;
    this.to = to;
    this.ascii = ascii;
    this.utf8 = ascii || isUtf8(data.subarray(from, to));
    this.pos = to;
  }

  /** A text column's string as a JavaScript string (see textBytes). */
  text(column: string): string {
    this.textBytes(column);
    return this.data.toString(this.ascii ? 'latin1' : 'utf8', this.from, this.to);
  }

  /** The epoch milliseconds of the last instant read. */
  millis = 0;

  /** An id or another integer column, checked as the table stores it. */
  positive(column: string): number {
    const value = this.long();
    if (!Number.isSafeInteger(value) || value <= 0)
      throw new RecordError(`${column} must be a positive integer within 2^53: ${value}`, column);
    return value;
  }

  /** An instant's calendar fields (instantParts' shared array), checked for years 0001–9999. */
  instant(column: string): Int32Array {
    const ms = this.long();
    this.millis = ms;
    try {
      return instantParts(ms);
    } catch (error) {
      throw new RecordError((error as Error).message, column);
    }
  }
}

/**
 * The records of the blocks, a page at a time: `page(count, first)` reads the next `count`
 * records from `cursor` (the block's first record is number `first` in the file). A block of
 * another writer's larger than a page gives several, the event loop getting a turn between them;
 * bytes left after a block's last record are refused.
 */
export async function* recordPages<T>(
  blocks: AsyncIterable<RecordBlock>,
  cursor: RecordCursor,
  page: (count: number, first: number) => T,
  pageRecords = PAGE_RECORDS,
): AsyncGenerator<T> {
  for await (const block of blocks) {
    cursor.reset(block.records);
    for (let done = 0; done < block.count;) {
      const count = Math.min(pageRecords, block.count - done);
      yield page(count, block.first + done);
      done += count;
      if (done < block.count) await nextTurn();
    }
    if (cursor.pos !== cursor.end) throw trailingBytes(cursor.end - cursor.pos, block.first + block.count - 1);
  }
}

/** The blocks' records as rows of the table, for a store that takes rows (decode.ts: backupRows, SQLite's writer connection). */
export function ownLayoutRows(table: TableDef, blocks: AsyncIterable<RecordBlock>): AsyncGenerator<Row[]> {
  const kinds = columnKinds(table);
  const names = table.columns.map((c) => c.name);
  const cursor = new RecordCursor();
  return recordPages(blocks, cursor, (count, first) => {
    const page = new Array<Row>(count);
    for (let r = 0; r < count; r++) {
      const row: Row = new Array<Value>(kinds.length);
      try {
        for (let c = 0; c < kinds.length; c++) {
          const kind = kinds[c]!;
          if (kind !== 'key' && !cursor.present(names[c]!)) row[c] = null;
          else if (kind === 'text') row[c] = cursor.text(names[c]!);
          else if (kind === 'datetime') row[c] = instantText(cursor.instant(names[c]!));
          else row[c] = cursor.positive(names[c]!);
        }
      } catch (error) {
        throw error instanceof RecordError ? recordInvalid(error, first + r) : error;
      }
      page[r] = row;
    }
    return page;
  });
}
