import { setImmediate as nextTurn } from 'node:timers/promises';
import { AppError } from '../errors.js';
import type { RecordBlock } from '../store/store.js';
import type { Row, TableDef, Value } from '../tables.js';
import { instantParts, instantText } from './timestamp.js';

/**
 * Reading records in a table's own backup layout (avro-schema.ts; OpenedBackup#ownLayout) by
 * hand, for the two readers that skip avsc: rows for SQLite (decode.ts) and COPY text for
 * PostgreSQL (store/postgres/avro-copy.ts). Both check a record as one another: ids positive
 * within 2^53, instants in years 0001–9999, a union branch 0 (null) or 1 (a value), nothing read
 * past the block; the messages are the ones below.
 */

/** What a column's bytes are: the key (a bare long), or a `["null", T]` union of one of these. */
export type ColumnKind = 'key' | 'integer' | 'text' | 'datetime';

export const columnKinds = (table: TableDef): ColumnKind[] => table.columns.map((c) => (c.primaryKey ? 'key' : c.type));

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

  /** A string's byte length; its bytes are `data[pos, pos + length)`, not yet skipped. */
  stringLength(): number {
    const length = this.long();
    if (length < 0 || this.pos + length > this.end) throw new RecordError('its block ends inside it');
    return length;
  }

  /** A text column's string (no NUL: PostgreSQL cannot store it), as avsc would read it (U+FFFD for bytes that are not UTF-8). */
  text(column: string): string {
    const length = this.stringLength();
    const data = this.data;
    const from = this.pos;
    const to = from + length;
    for (let i = from; i < to; i++) if (data[i] === 0) throw new RecordError(`${column} contains a NUL character`, column);
    this.pos = to;
    return data.toString('utf8', from, to);
  }

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
    try {
      return instantParts(ms);
    } catch (error) {
      throw new RecordError((error as Error).message, column);
    }
  }
}

/** A block's records as rows of the table, for a store that takes rows (decode.ts: backupRows). */
export class OwnLayoutRows {
  private readonly kinds: readonly ColumnKind[];
  private readonly names: readonly string[];
  private readonly cursor = new RecordCursor();
  private block: RecordBlock | undefined;

  constructor(table: TableDef) {
    this.kinds = columnKinds(table);
    this.names = table.columns.map((c) => c.name);
  }

  /** Starts reading a block. */
  start(block: RecordBlock): void {
    this.block = block;
    this.cursor.reset(block.records);
  }

  /** The block's next `count` records; `done` of its records were read before them. */
  rows(count: number, done: number): Row[] {
    const cursor = this.cursor;
    const kinds = this.kinds;
    const names = this.names;
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
        throw error instanceof RecordError ? recordInvalid(error, this.block!.first + done + r) : error;
      }
      page[r] = row;
    }
    return page;
  }

  /** After the block's last record: refuses bytes left over. */
  finish(): void {
    const { pos, end } = this.cursor;
    if (pos !== end) throw trailingBytes(end - pos, this.block!.first + this.block!.count - 1);
  }
}

/** Rows in pages of at most `pageRows` (a larger block than ours gives several, the event loop getting a turn between them). */
export async function* ownLayoutRows(table: TableDef, blocks: AsyncIterable<RecordBlock>, pageRows = 4096): AsyncGenerator<Row[]> {
  const own = new OwnLayoutRows(table);
  for await (const block of blocks) {
    own.start(block);
    for (let done = 0; done < block.count;) {
      const page = own.rows(Math.min(pageRows, block.count - done), done);
      done += page.length;
      yield page;
      if (done < block.count) await nextTurn();
    }
    own.finish();
  }
}
