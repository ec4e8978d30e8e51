import { columnKinds, RecordCursor, RecordError, recordInvalid, recordPages, type ColumnKind } from '../../backup/own-layout.js';
import { INSTANT_BYTES, writeInstant } from '../../backup/timestamp.js';
import { withRoom } from '../../lib/bytes.js';
import type { TableDef } from '../../tables.js';
import type { RecordBlock } from '../store.js';
import type { PackedRows } from './packed-rows.js';

/**
 * Packs the records of a backup in the table's own layout (OpenedBackup#ownLayout) straight into
 * the load worker's chunks (packed-rows.ts), with no row of values and no string per field on
 * this thread: integers read from their varints into the chunk's numbers, names copied as bytes
 * and instants written as their canonical text into one buffer, decoded once per chunk into its
 * text. Checked as every reader of the layout checks a record (own-layout.ts); a string that is
 * not UTF-8 is read as avsc reads it, with U+FFFD.
 */
export class AvroPackedPages {
  private readonly kinds: readonly ColumnKind[];
  private readonly names: readonly string[];
  private readonly numberColumns: number;
  private readonly cursor = new RecordCursor();
  private out = Buffer.allocUnsafe(1 << 16);

  constructor(table: TableDef) {
    this.kinds = columnKinds(table);
    this.names = table.columns.map((c) => c.name);
    this.numberColumns = table.columns.filter((c) => c.type === 'integer').length;
  }

  /** The blocks' records, a chunk per page; throws BACKUP_INVALID naming the record. */
  pages(blocks: AsyncIterable<RecordBlock>): AsyncGenerator<PackedRows> {
    return recordPages(blocks, this.cursor, (count, first) => this.page(count, first));
  }

  private page(count: number, first: number): PackedRows {
    const cursor = this.cursor;
    const kinds = this.kinds;
    const names = this.names;
    const numbers = new Float64Array(count * this.numberColumns);
    const lengths = new Int32Array(count * (kinds.length - this.numberColumns));
    let n = 0;
    let s = 0;
    let at = 0;
    let ascii = true;
    for (let r = 0; r < count; r++) {
      try {
        for (let c = 0; c < kinds.length; c++) {
          const kind = kinds[c]!;
          const present = kind === 'key' || cursor.present(names[c]!);
          if (kind === 'key' || kind === 'integer') {
            numbers[n++] = present ? cursor.positive(names[c]!) : Number.NaN;
          } else if (!present) {
            lengths[s++] = -1;
          } else if (kind === 'datetime') {
            this.out = withRoom(this.out, at, INSTANT_BYTES);
            at = writeInstant(this.out, at, cursor.instant(names[c]!));
            lengths[s++] = INSTANT_BYTES;
          } else {
            cursor.textBytes(names[c]!);
            const { data, from, to } = cursor;
            if (cursor.ascii) {
              this.out = withRoom(this.out, at, to - from);
              for (let i = from; i < to; i++) this.out[at++] = data[i]!;
              lengths[s++] = to - from;
            } else {
              // The field's length in the chunk's text is in UTF-16 units. Bytes that are not
              // UTF-8 are written as the string avsc would read (U+FFFD), so that the chunk's
              // bytes decode field by field.
              const text = data.toString('utf8', from, to);
              this.out = withRoom(this.out, at, cursor.utf8 ? to - from : Buffer.byteLength(text));
              at += cursor.utf8 ? data.copy(this.out, at, from, to) : this.out.write(text, at, 'utf8');
              lengths[s++] = text.length;
              ascii = false;
            }
          }
        }
      } catch (error) {
        throw error instanceof RecordError ? recordInvalid(error, first + r) : error;
      }
    }
    const text = this.out.toString(ascii ? 'latin1' : 'utf8', 0, at);
    return { count, numbers, lengths, text, incomplete: new Uint8Array(0), lines: new Float64Array(0), raw: '' };
  }
}
