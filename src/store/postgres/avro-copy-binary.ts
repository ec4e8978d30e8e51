import { RecordError, recordInvalid, recordPages, type ColumnKind } from '../../backup/own-layout.js';
import { RecordConverter } from './record-converter.js';
import { yearQuarter } from '../hire-count-key.js';
import type { RecordBlock } from '../store.js';
import { withRoom } from '../../lib/bytes.js';

/** COPY BINARY's signature, flags (none) and header extension length (none): PostgreSQL's "Binary Format". */
const HEADER = Buffer.from([0x50, 0x47, 0x43, 0x4f, 0x50, 0x59, 0x0a, 0xff, 0x0d, 0x0a, 0x00, 0, 0, 0, 0, 0, 0, 0, 0]);
/** The field count -1 that ends the data. */
const TRAILER = Buffer.from([0xff, 0xff]);
/** PostgreSQL's epoch, 2000-01-01T00:00:00Z, in Unix milliseconds: a timestamptz is microseconds from it. */
const PG_EPOCH_MS = 946_684_800_000;
const TWO_32 = 2 ** 32;
/** A record's bytes but its text: the field count, and a length and 8 bytes per field. */
const fixedBytes = (columns: number): number => 2 + columns * 12;

/** The PostgreSQL type each column kind must have for its binary form to be the one written here. */
export const BINARY_TYPES: Record<ColumnKind, string> = {
  key: 'bigint',
  integer: 'bigint',
  text: 'text',
  datetime: 'timestamp with time zone',
};

/**
 * Turns the records of a backup in the table's own layout into `COPY … FROM STDIN WITH (FORMAT
 * binary)` data, bytes to bytes, as AvroCopyText does into COPY text: ids as int8, an instant as
 * its int64 microseconds since 2000 (integer arithmetic from its epoch milliseconds), a name as
 * its UTF-8 bytes with no escaping. Against COPY text, neither this thread formats digits and
 * instants nor PostgreSQL parses them: the columns must have the types of BINARY_TYPES, which the
 * caller checks. Records are checked as every reader of the layout checks them (own-layout.ts).
 */
export class AvroCopyBinary extends RecordConverter {
  /** The COPY data: the header, a page of records per piece, the trailer. */
  async *data(blocks: AsyncIterable<RecordBlock>): AsyncGenerator<Buffer> {
    yield HEADER;
    yield* recordPages(blocks, this.cursor, (count, first) => this.page(count, first));
    yield TRAILER;
  }

  private page(count: number, first: number): Buffer {
    const cursor = this.cursor;
    const kinds = this.kinds;
    const names = this.names;
    const values = this.values;
    const fixed = fixedBytes(kinds.length);
    let at = 0;
    for (let r = 0; r < count; r++) {
      try {
        this.out = withRoom(this.out, at, fixed);
        let out = this.out;
        out[at++] = kinds.length >> 8;
        out[at++] = kinds.length & 0xff;
        for (let c = 0; c < kinds.length; c++) {
          const kind = kinds[c]!;
          if (kind !== 'key' && !cursor.present(names[c]!)) {
            at = writeInt32(out, at, -1);
            values[c] = Number.NaN;
          } else if (kind === 'text') {
            at = this.textField(at, names[c]!);
            out = this.out;
          } else if (kind === 'datetime') {
            const parts = cursor.instant(names[c]!);
            values[c] = yearQuarter(parts[0]!, parts[1]!);
            at = writeInt32(out, at, 8);
            at = writeMicros(out, at, cursor.millis - PG_EPOCH_MS);
          } else {
            const value = cursor.positive(names[c]!);
            values[c] = value;
            at = writeInt32(out, at, 8);
            const high = Math.floor(value / TWO_32);
            at = writeInt32(out, at, high);
            at = writeInt32(out, at, value - high * TWO_32);
          }
        }
      } catch (error) {
        throw error instanceof RecordError ? recordInvalid(error, first + r) : error;
      }
      this.countRecord();
    }
    return Buffer.from(this.out.subarray(0, at));
  }

  /** The cursor's next string as a binary text field (its length, its bytes) at `at`. */
  private textField(at: number, column: string): number {
    const cursor = this.cursor;
    cursor.textBytes(column);
    const { data, from, to } = cursor;
    // Room for the rest of the record's fixed part too.
    const room = fixedBytes(this.kinds.length);
    if (!cursor.utf8) {
      // Rare: written as the string avsc would read (U+FFFD for each bad sequence).
      const text = data.toString('utf8', from, to);
      const length = Buffer.byteLength(text);
      this.out = withRoom(this.out, at, length + room);
      at = writeInt32(this.out, at, length);
      return at + this.out.write(text, at, 'utf8');
    }
    this.out = withRoom(this.out, at, to - from + room);
    const out = this.out;
    at = writeInt32(out, at, to - from);
    if (to - from > 64) return at + data.copy(out, at, from, to);
    for (let i = from; i < to; i++) out[at++] = data[i]!;
    return at;
  }
}

/** A 32-bit integer, big-endian, two's complement for a negative one. */
function writeInt32(out: Buffer, at: number, value: number): number {
  out[at] = (value >>> 24) & 0xff;
  out[at + 1] = (value >>> 16) & 0xff;
  out[at + 2] = (value >>> 8) & 0xff;
  out[at + 3] = value & 0xff;
  return at + 4;
}

/**
 * `ms` milliseconds as int64 microseconds, big-endian, without BigInt: ms × 1000 passes 2^53
 * for instants far from 2000, so it is split at 2^32 first (every product below stays exact).
 */
function writeMicros(out: Buffer, at: number, ms: number): number {
  const high = Math.floor(ms / TWO_32);
  const low = (ms - high * TWO_32) * 1000;
  const carry = Math.floor(low / TWO_32);
  at = writeInt32(out, at, high * 1000 + carry);
  return writeInt32(out, at, low - carry * TWO_32);
}
