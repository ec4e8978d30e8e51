import type { Row, TableDef } from '../../tables.js';
import type { StagedRow } from '../store.js';

/**
 * A chunk of accepted rows as it crosses to the load worker (see load-worker.ts): two typed
 * arrays and one string, not an object and an array per row. Structured cloning a chunk of row
 * objects costs the main thread about as much as the inserts it hands off (measured: ~1 s per 1M
 * rows); this costs a copy of the text. The records as sent travel too, for the rejections the
 * worker finds: kept on the main thread until the worker answers, rows outlive the young
 * generation (measured: the main thread's GC 0.2 s → 0.65 s per 1M rows).
 */
export interface PackedRows {
  count: number;
  /** Per row, the integer columns in order: the value, NaN for NULL. */
  numbers: Float64Array<ArrayBuffer>;
  /** Per row, the text and datetime columns in order: the value's length in `text`, -1 for NULL. */
  lengths: Int32Array<ArrayBuffer>;
  text: string;
  /** Per row: 1 when some optional field was empty. */
  incomplete: Uint8Array<ArrayBuffer>;
  /** Per row: its line, then the length of its record in `raw`. */
  lines: Float64Array<ArrayBuffer>;
  /** The records as sent, one after the other. */
  raw: string;
}

/** Which columns travel as numbers (integers) and which as text, in the dictionary's order. */
const numericColumns = (table: TableDef): boolean[] => table.columns.map((c) => c.type === 'integer');

export function packRows(table: TableDef, rows: readonly StagedRow[]): PackedRows {
  const numeric = numericColumns(table);
  const numberCount = numeric.filter(Boolean).length;
  const numbers = new Float64Array(rows.length * numberCount);
  const lengths = new Int32Array(rows.length * (numeric.length - numberCount));
  const incomplete = new Uint8Array(rows.length);
  const lines = new Float64Array(rows.length * 2);
  let text = '';
  let raw = '';
  let n = 0;
  let s = 0;
  for (let r = 0; r < rows.length; r++) {
    const row = rows[r]!;
    if (row.incomplete) incomplete[r] = 1;
    lines[r * 2] = row.line;
    lines[r * 2 + 1] = row.raw.length;
    raw += row.raw;
    const values = row.values;
    for (let c = 0; c < numeric.length; c++) {
      const value = values[c] ?? null;
      if (numeric[c]) {
        if (value !== null && typeof value !== 'number') throw new TypeError(`${table.name}.${table.columns[c]!.name}: not a number`);
        numbers[n++] = value ?? Number.NaN;
      } else if (value === null) lengths[s++] = -1;
      else {
        if (typeof value !== 'string') throw new TypeError(`${table.name}.${table.columns[c]!.name}: not text`);
        lengths[s++] = value.length;
        text += value;
      }
    }
  }
  return { count: rows.length, numbers, lengths, text, incomplete, lines, raw };
}

/** The rows again, for the load session on the worker. */
export function unpackRows(table: TableDef, packed: PackedRows): StagedRow[] {
  const numeric = numericColumns(table);
  const rows: StagedRow[] = new Array<StagedRow>(packed.count);
  const { numbers, lengths, text, lines, raw } = packed;
  let n = 0;
  let s = 0;
  let at = 0;
  let rawAt = 0;
  for (let r = 0; r < packed.count; r++) {
    const values: Row = new Array<Row[number]>(numeric.length);
    for (let c = 0; c < numeric.length; c++) {
      if (numeric[c]) {
        const value = numbers[n++]!;
        values[c] = Number.isNaN(value) ? null : value;
      } else {
        const length = lengths[s++]!;
        if (length < 0) values[c] = null;
        else {
          values[c] = text.slice(at, at + length);
          at += length;
        }
      }
    }
    const rawEnd = rawAt + lines[r * 2 + 1]!;
    rows[r] = { line: lines[r * 2]!, raw: raw.slice(rawAt, rawEnd), values, incomplete: packed.incomplete[r] === 1 };
    rawAt = rawEnd;
  }
  return rows;
}
