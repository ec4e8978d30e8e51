import type { ColumnType, TableDef } from '../tables.js';
import type { CopyRows, Rejection } from '../store/store.js';
import { copyLineFor } from '../store/postgres/copy-text.js';
import { hireCountColumns, quarterIndex } from '../store/hire-count-key.js';
import type { RowCheck } from './row-rules.js';
import { CsvSyntaxError } from './csv-records.js';
import { BACKSLASH, COMMA, CR, DAYS_IN_MONTH, LF, NUL, QUOTE, TAB } from '../lib/bytes.js';

/**
 * The byte path of a bulk load into PostgreSQL: whole lines of CSV, checked and written as COPY
 * text straight from the body's bytes, without a JavaScript string, array or object per row.
 * Profiled on 1M rows, the string path spent more time collecting its garbage (an object per
 * record, a string per field and per COPY line) than doing its work.
 *
 * It takes only what it can answer exactly as the general path does (csv-records.ts, then
 * row-rules.ts) and hands the rest over:
 * - a part with a quote, bytes that are not UTF-8 or a lone CR is refused whole (`scan` answers
 *   undefined) and read by the general path, which knows quoted fields and where lines break;
 * - a line whose fields are not of the plain shapes (digits, a canonical UTC instant, text
 *   without NUL, backslash or tab), has an empty key or the wrong number of fields goes to
 *   `slow`, the general row rules, which accept it (with the same values) or reject it (with the
 *   same reason). test/ingest/copy-scan.test.ts checks both paths give the same rows, lines,
 *   values and reasons on generated files meant to find where they could differ.
 */

/** What the general row rules answer for a line of a part without quotes (its fields split on commas). */
export type SlowLine = (text: string, line: number) => RowCheck;

export interface ScanLimits {
  strict: boolean;
  /** CSV_MAX_RECORD_BYTES: a longer line fails the upload, as in the general reader. */
  maxRecordBytes: number;
}

export interface ScannedPart extends CopyRows {
  /** Records read (accepted and rejected). */
  received: number;
  /** Lines the part spans, blank ones included: where the next part starts. */
  lines: number;
  rejected: Rejection[];
}

const MILLIS = Buffer.from('.000Z');
const NULL_FIELD = Buffer.from('\\N');

/** A field of a line the byte path leaves to the general rules. */
const SLOW = -1;
/** A lone CR: the general reader breaks the line there; the whole part goes to it. */
const REFUSE = -2;

/** Whether a part could be scanned at all: no quote anywhere (checked natively, once per part). */
export const mayScan = (part: Buffer): boolean => part.indexOf(QUOTE) === -1;

export class CopyScanner {
  private readonly types: readonly ColumnType[];
  private readonly keyColumn: number;
  private readonly copyLine: ReturnType<typeof copyLineFor>;
  /** hired_employees: where its hire is counted from (see HireCountTally). */
  private readonly hires: { datetime: number; department: number; job: number } | undefined;
  /** The COPY text of the part being scanned, copied out at its end; grows, reused. */
  private out = Buffer.allocUnsafe(256 * 1024);
  private o = 0;
  /** Per field of the current row: its integer value (-1: NULL), for the hire count. */
  private readonly ints: Float64Array;
  /** The current row's instant: `year * 4 + quarter - 1`, or -1 when NULL. */
  private yq = -1;

  constructor(
    table: TableDef,
    private readonly limits: ScanLimits,
    private readonly slow: SlowLine,
  ) {
    this.types = table.columns.map((c) => c.type);
    this.keyColumn = table.columns.findIndex((c) => c.primaryKey === true);
    this.copyLine = copyLineFor(this.types);
    this.hires = table.name === 'hired_employees' ? hireCountColumns(table) : undefined;
    this.ints = new Float64Array(this.types.length);
  }

  /** Per row: line * 2 + incomplete, raw start, raw end; reused from part to part. */
  private rows = new Float64Array(3 * 4096);
  /** Per row: yq, department, job (hired_employees); reused. */
  private hireKeys = new Float64Array(3 * 4096);
  /** Per row: its primary key; reused. */
  private keys = new Float64Array(4096);

  /**
   * Scans `part` (whole lines: it ends with LF; valid UTF-8 without a quote, see mayScan), whose
   * first line is `line`. Undefined when the part must be read by the general path instead
   * (nothing of it was taken then). The answer's text, rows and hires are this scanner's own
   * memory, reused by the next scan: whoever keeps them copies them (no allocation per part).
   */
  scan(part: Buffer, line: number): ScannedPart | undefined {
    this.o = 0;
    // Per row: line * 2 + incomplete, raw start, raw end; hires: yq, department, job.
    let rows = this.rows;
    let hires = this.hires === undefined ? undefined : this.hireKeys;
    let keys = this.keys;
    let count = 0;
    let incomplete = 0;
    let received = 0;
    const rejected: Rejection[] = [];
    let first = line;
    for (let pos = 0; pos < part.length; first++) {
      const lf = part.indexOf(LF, pos);
      const end = lf > pos && part[lf - 1] === CR ? lf - 1 : lf;
      const start = pos;
      pos = lf + 1;
      // Blank lines are skipped, and counted.
      if (end === start) continue;
      if (end - start > this.limits.maxRecordBytes) {
        throw new CsvSyntaxError(`line ${first}: record longer than ${this.limits.maxRecordBytes} bytes`, first);
      }
      received++;
      const rowStart = this.o;
      let empty = this.fastRow(part, start, end);
      if (empty === REFUSE) return undefined;
      if (empty === SLOW) {
        this.o = rowStart;
        const cr = part.indexOf(CR, start);
        if (cr !== -1 && cr < end) return undefined;
        const text = part.toString('utf8', start, end);
        const check = this.slow(text, first);
        if (!check.ok) {
          rejected.push({ line: first, raw: text, reason: check.reason });
          continue;
        }
        this.ensure(text.length * 3 + 64);
        this.o += this.out.write(this.copyLine(check.values), this.o, 'utf8');
        empty = check.incomplete ? 1 : 0;
        if (this.hires !== undefined) this.hiresOf(check.values);
        this.ints[this.keyColumn] = check.values[this.keyColumn] as number;
      }
      if (3 * count + 3 > rows.length) rows = this.rows = grow(rows);
      rows[3 * count] = first * 2 + (empty > 0 ? 1 : 0);
      rows[3 * count + 1] = start;
      rows[3 * count + 2] = end;
      if (count + 1 > keys.length) keys = this.keys = grow(keys);
      keys[count] = this.ints[this.keyColumn]!;
      if (hires !== undefined) {
        if (3 * count + 3 > hires.length) hires = this.hireKeys = grow(hires);
        const at = this.hires!;
        const department = this.ints[at.department]!;
        const h = hires;
        h[3 * count] = this.yq === -1 || department === -1 ? -1 : this.yq;
        h[3 * count + 1] = department;
        h[3 * count + 2] = Math.max(this.ints[at.job]!, 0);
      }
      if (empty > 0) incomplete++;
      count++;
    }
    return {
      text: this.out.subarray(0, this.o),
      raw: part,
      rows: rows.subarray(0, 3 * count),
      hires: hires?.subarray(0, 3 * count),
      keys: keys.subarray(0, count),
      count,
      incomplete,
      received,
      lines: first - line,
      rejected,
    };
  }

  /** The hire-count fields of a row the general rules accepted. */
  private hiresOf(values: readonly unknown[]): void {
    const at = this.hires!;
    const datetime = values[at.datetime];
    const department = values[at.department];
    const job = values[at.job];
    this.yq = typeof datetime === 'string' ? quarterIndex(datetime) : -1;
    this.ints[at.department] = typeof department === 'number' ? department : -1;
    this.ints[at.job] = typeof job === 'number' ? job : -1;
  }

  /**
   * Writes one line's COPY text when every field is of a plain shape: the number of empty
   * (NULL) fields, SLOW when a field is not (the caller rewinds the output), REFUSE at a CR.
   */
  private fastRow(b: Buffer, start: number, end: number): number {
    const types = this.types;
    this.ensure(2 * (end - start) + 8 * types.length + 16);
    const out = this.out;
    let o = this.o;
    let p = start;
    let empty = 0;
    this.yq = -1;
    for (let c = 0; c < types.length; c++) {
      if (c > 0) {
        if (p >= end || b[p] !== COMMA) return SLOW;
        p++;
        out[o++] = TAB;
      }
      const from = p;
      while (p < end && b[p] !== COMMA) p++;
      if (p === from) {
        if (c === this.keyColumn || this.limits.strict) return SLOW;
        out[o++] = NULL_FIELD[0]!;
        out[o++] = NULL_FIELD[1]!;
        this.ints[c] = -1;
        empty++;
        continue;
      }
      const type = types[c];
      if (type === 'integer') {
        if (p - from > 15) return SLOW;
        let value = 0;
        for (let i = from; i < p; i++) {
          const d = b[i]! - 48;
          if (d < 0 || d > 9) return b[i] === CR ? REFUSE : SLOW;
          value = value * 10 + d;
          // Leading zeros dropped: the text is the stored number's, as the general path's.
          if (value > 0) out[o++] = b[i]!;
        }
        if (value === 0) return SLOW;
        this.ints[c] = value;
      } else if (type === 'text') {
        for (let i = from; i < p; i++) {
          const x = b[i]!;
          if (x === NUL || x === BACKSLASH || x === TAB) return SLOW;
          if (x === CR) return REFUSE;
          out[o++] = x;
        }
      } else {
        const yq = canonicalUtc(b, from, p);
        if (yq < 0) return SLOW;
        b.copy(out, o, from, from + 19);
        o += 19;
        MILLIS.copy(out, o);
        o += 5;
        this.yq = yq;
      }
    }
    if (p !== end) return SLOW;
    out[o++] = LF;
    this.o = o;
    return empty;
  }

  private ensure(bytes: number): void {
    if (this.o + bytes <= this.out.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(2 * this.out.length, this.o + bytes));
    this.out.copy(bigger, 0, 0, this.o);
    this.out = bigger;
  }
}

function grow(array: Float64Array<ArrayBuffer>): Float64Array<ArrayBuffer> {
  const bigger = new Float64Array(2 * array.length);
  bigger.set(array);
  return bigger;
}

const digit = (b: Buffer, i: number): number => {
  const d = b[i]! - 48;
  return d >= 0 && d <= 9 ? d : Number.NaN;
};
const two = (b: Buffer, i: number): number => digit(b, i) * 10 + digit(b, i + 1);
const isLeap = (y: number): boolean => (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;

/**
 * `YYYY-MM-DDTHH:MM:SSZ` that is a real instant: its `year * 4 + quarter - 1`; -1 for anything
 * else (the general rules then accept the other shapes, or say why not). The same test as
 * instant.ts's canonicalUtc, on bytes.
 */
function canonicalUtc(b: Buffer, from: number, to: number): number {
  if (to - from !== 20) return -1;
  if (
    b[from + 4] !== 45 ||
    b[from + 7] !== 45 ||
    b[from + 10] !== 84 ||
    b[from + 13] !== 58 ||
    b[from + 16] !== 58 ||
    b[from + 19] !== 90
  ) {
    return -1;
  }
  const year = two(b, from) * 100 + two(b, from + 2);
  const month = two(b, from + 5);
  const day = two(b, from + 8);
  if (!(
    year >= 1 &&
    month >= 1 &&
    month <= 12 &&
    day >= 1 &&
    two(b, from + 11) <= 23 &&
    two(b, from + 14) <= 59 &&
    two(b, from + 17) <= 59
  )) {
    return -1;
  }
  const maxDay = month === 2 && isLeap(year) ? 29 : DAYS_IN_MONTH[month - 1]!;
  if (day > maxDay) return -1;
  return year * 4 + Math.floor((month + 2) / 3) - 1;
}
