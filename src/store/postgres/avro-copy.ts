import { isUtf8 } from 'node:buffer';
import { columnKinds, RecordCursor, RecordError, recordInvalid, trailingBytes, type ColumnKind } from '../../backup/own-layout.js';
import { INSTANT_BYTES, writeInstant } from '../../backup/timestamp.js';
import type { TableDef } from '../../tables.js';
import { hireCountColumns, yearQuarter } from '../hire-count-key.js';
import type { RecordBlock } from '../store.js';
import { copyField } from './copy-text.js';
import type { HireCountTally } from './hire-count-tally.js';
import { BACKSLASH, CR, LF, N, NUL, TAB } from '../../lib/bytes.js';

/** Records turned into one piece of COPY text: a page, as a restore's rows path hands them on. */
const PAGE_RECORDS = 4096;
/** COPY text of a non-text field at most: 16 digits of an id within 2^53, or an instant, and its delimiter. */
const FIELD_MAX = INSTANT_BYTES + 1;
/** Bytes a COPY text field holds for each byte of an Avro string at most: an escaped tab is two; a byte that is not UTF-8 becomes U+FFFD (three), which an escape never follows. */
const TEXT_GROWTH = 3;

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
 * 0.6 s of decoding, 0.27 s of COPY text and most of 0.75 s of garbage collection.
 */
export class AvroCopyText {
  private readonly kinds: readonly ColumnKind[];
  private readonly names: readonly string[];
  private readonly counted: { datetime: number; department: number; job: number } | undefined;
  /** The record's values by column, as a tally needs them: ids, an instant's year-quarter, NaN for NULL. */
  private readonly values: Float64Array;
  private readonly cursor = new RecordCursor();
  private out = Buffer.allocUnsafe(1 << 16);
  /** Bytes of `out` the last page wrote. */
  private written = 0;

  constructor(
    table: TableDef,
    private readonly tally?: HireCountTally,
  ) {
    this.kinds = columnKinds(table);
    this.names = table.columns.map((c) => c.name);
    this.counted = tally === undefined ? undefined : hireCountColumns(table);
    this.values = new Float64Array(table.columns.length);
  }

  /** The blocks' COPY text, a page of records per piece; throws BACKUP_INVALID naming the record. */
  async *text(blocks: AsyncIterable<RecordBlock>): AsyncGenerator<Buffer> {
    for await (const block of blocks) yield* this.pages(block);
  }

  /** One block's COPY text, a page of records per piece. */
  *pages(block: RecordBlock): Generator<Buffer> {
    this.cursor.reset(block.records);
    for (let done = 0; done < block.count;) {
      const n = Math.min(PAGE_RECORDS, block.count - done);
      this.page(n, block.first + done);
      done += n;
      yield Buffer.from(this.out.subarray(0, this.written));
    }
    if (this.cursor.pos !== this.cursor.end) throw trailingBytes(this.cursor.end - this.cursor.pos, block.first + block.count - 1);
  }

  /** Writes the next `count` records into `out` (`written` bytes). */
  private page(count: number, first: number): void {
    const cursor = this.cursor;
    const kinds = this.kinds;
    const names = this.names;
    const values = this.values;
    let at = 0;
    for (let r = 0; r < count; r++) {
      try {
        at = this.room(at, kinds.length * FIELD_MAX);
        for (let c = 0; c < kinds.length; c++) {
          const kind = kinds[c]!;
          if (c > 0) this.out[at++] = TAB;
          if (kind !== 'key' && !cursor.present(names[c]!)) {
            this.out[at++] = BACKSLASH;
            this.out[at++] = N;
            values[c] = Number.NaN;
          } else if (kind === 'text') {
            at = this.textField(at, c);
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
      const counted = this.counted;
      if (counted !== undefined) {
        const yq = values[counted.datetime]!;
        const department = values[counted.department]!;
        // The trigger's rule: no instant or no department, not counted; no job counts under 0.
        if (!Number.isNaN(yq) && !Number.isNaN(department)) {
          const job = values[counted.job]!;
          this.tally!.countHire(yq, department, Number.isNaN(job) ? 0 : job);
        }
      }
    }
    this.written = at;
  }

  /** The cursor's next string as a COPY text field at `at`; returns the position after it. */
  private textField(at: number, column: number): number {
    const cursor = this.cursor;
    const length = cursor.stringLength();
    const data = cursor.data;
    const from = cursor.pos;
    const to = from + length;
    at = this.room(at, TEXT_GROWTH * length + FIELD_MAX);
    const out = this.out;
    const start = at;
    let wide = false;
    for (let i = from; i < to; i++) {
      const b = data[i]!;
      if (b >= 0x80) wide = true;
      else if (b === NUL) throw new RecordError(`${this.names[column]} contains a NUL character`, this.names[column]);
      else if (b === TAB || b === LF || b === CR || b === BACKSLASH) {
        out[at++] = BACKSLASH;
        out[at++] = ESCAPED[b]!;
        continue;
      }
      out[at++] = b;
    }
    if (wide && !isUtf8(data.subarray(from, to))) {
      // Rare: written again from the string avsc would read (U+FFFD for each bad sequence).
      at = start + out.write(copyField(data.toString('utf8', from, to)), start, 'utf8');
    }
    cursor.pos = to;
    return at;
  }

  /** `at`, with room for `n` more bytes in `out` (grown, what it holds kept, when short). */
  private room(at: number, n: number): number {
    if (at + n > this.out.length) {
      const bigger = Buffer.allocUnsafe(Math.max(2 * this.out.length, at + n));
      this.out.copy(bigger, 0, 0, at);
      this.out = bigger;
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
