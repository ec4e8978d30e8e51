import { RecordError, recordInvalid, recordPages } from '../../backup/own-layout.js';
import { RecordConverter } from './record-converter.js';
import { INSTANT_BYTES, writeInstant } from '../../backup/timestamp.js';
import { yearQuarter } from '../hire-count-key.js';
import type { RecordBlock } from '../store.js';
import { copyField } from './copy-text.js';
import { BACKSLASH, CR, LF, N, TAB, withRoom } from '../../lib/bytes.js';

/** COPY text of a non-text field at most: 16 digits of an id within 2^53, or an instant, and its delimiter. */
const FIELD_MAX = INSTANT_BYTES + 1;

const ESCAPED: Record<number, number> = { [TAB]: 116, [LF]: 110, [CR]: 114, [BACKSLASH]: BACKSLASH };

/**
 * Turns the records of a backup in the table's own layout (OpenedBackup#ownLayout: the key a
 * `long`, every other column `["null", T]`) into `COPY … FROM STDIN` text, bytes to bytes: the
 * reverse of copy-avro.ts. A name is copied (escaped where COPY needs it) and never becomes a
 * string; ids are read from their varints and written digit by digit; an instant is written
 * from its epoch milliseconds (timestamp.ts). Checked as the rows path checks a record
 * (own-layout.ts: ids positive within 2^53, no NUL in text, instants in years 0001–9999); a
 * string that is not UTF-8 is read as avsc reads it, with U+FFFD. When a tally is given, each record's hire
 * is counted in it (hire-count-key.ts). Profiled on a 1M-row restore, the path through rows cost
 * 0.6 s of decoding, 0.27 s of COPY text and most of 0.75 s of garbage collection. A restore uses
 * it when a column's type is not ours; otherwise COPY BINARY (avro-copy-binary.ts).
 */
export class AvroCopyText extends RecordConverter {
  /** The blocks' COPY text, a page of records per piece; throws BACKUP_INVALID naming the record. */
  text(blocks: AsyncIterable<RecordBlock>): AsyncGenerator<Buffer> {
    return recordPages(blocks, this.cursor, (count, first) => this.page(count, first));
  }

  /** The COPY text of the cursor's next `count` records. */
  private page(count: number, first: number): Buffer {
    const cursor = this.cursor;
    const kinds = this.kinds;
    const names = this.names;
    const values = this.values;
    let at = 0;
    for (let r = 0; r < count; r++) {
      try {
        this.out = withRoom(this.out, at, kinds.length * FIELD_MAX);
        for (let c = 0; c < kinds.length; c++) {
          const kind = kinds[c]!;
          if (c > 0) this.out[at++] = TAB;
          if (kind !== 'key' && !cursor.present(names[c]!)) {
            this.out[at++] = BACKSLASH;
            this.out[at++] = N;
            values[c] = Number.NaN;
          } else if (kind === 'text') {
            at = this.textField(at, names[c]!);
          } else if (kind === 'datetime') {
            const parts = cursor.instant(names[c]!);
            at = writeInstant(this.out, at, parts);
            values[c] = yearQuarter(parts[0]!, parts[1]!);
          } else {
            const value = cursor.positive(names[c]!);
            values[c] = value;
            at = writeDecimal(this.out, at, value);
          }
        }
      } catch (error) {
        throw error instanceof RecordError ? recordInvalid(error, first + r) : error;
      }
      this.out[at++] = LF;
      this.countRecord();
    }
    return Buffer.from(this.out.subarray(0, at));
  }

  /** The cursor's next string as a COPY text field at `at`; returns the position after it. */
  private textField(at: number, column: string): number {
    const cursor = this.cursor;
    cursor.textBytes(column);
    const { data, from, to } = cursor;
    if (!cursor.utf8) {
      // Rare: written from the string avsc would read (U+FFFD for each bad sequence).
      const text = copyField(data.toString('utf8', from, to));
      this.out = withRoom(this.out, at, Buffer.byteLength(text));
      return at + this.out.write(text, at, 'utf8');
    }
    // An escape doubles a byte at most.
    this.out = withRoom(this.out, at, 2 * (to - from) + FIELD_MAX);
    const out = this.out;
    for (let i = from; i < to; i++) {
      const b = data[i]!;
      if (b === TAB || b === LF || b === CR || b === BACKSLASH) {
        out[at++] = BACKSLASH;
        out[at++] = ESCAPED[b]!;
      } else out[at++] = b;
    }
    return at;
  }
}

/** Writes a positive integer's decimal digits at `at`; returns the position after them. */
function writeDecimal(out: Buffer, at: number, value: number): number {
  let digits = 1;
  for (let v = value; v >= 10; v = Math.floor(v / 10)) digits++;
  for (let i = at + digits - 1, v = value; i >= at; i--, v = Math.floor(v / 10)) out[i] = 48 + (v % 10);
  return at + digits;
}
