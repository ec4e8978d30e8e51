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
  /** Per row: 1 when some optional field was empty (empty for a restore's page, as the next two). */
  incomplete: Uint8Array<ArrayBuffer>;
  /** Per row: its line, then the length of its record in `raw`. */
  lines: Float64Array<ArrayBuffer>;
  /** The records as sent, one after the other. */
  raw: string;
}

/** Which columns travel as numbers (integers) and which as text, in the dictionary's order. */
const numericColumns = (table: TableDef): boolean[] => table.columns.map((c) => c.type === 'integer');

/** A chunk of an upload: its rows' values, lines and records as sent. */
export function packRows(table: TableDef, rows: readonly StagedRow[]): PackedRows {
  const lines = new Float64Array(rows.length * 2);
  const incomplete = new Uint8Array(rows.length);
  let raw = '';
  for (let r = 0; r < rows.length; r++) {
    const row = rows[r]!;
    if (row.incomplete) incomplete[r] = 1;
    lines[r * 2] = row.line;
    lines[r * 2 + 1] = row.raw.length;
    raw += row.raw;
  }
  return { ...packValues(table, rows.length, (r) => rows[r]!.values), incomplete, lines, raw };
}

/** A page of a restore: its rows' values only. */
export function packPage(table: TableDef, rows: readonly Row[]): PackedRows {
  return { ...packValues(table, rows.length, (r) => rows[r]!), incomplete: new Uint8Array(0), lines: new Float64Array(0), raw: '' };
}

function packValues(
  table: TableDef,
  count: number,
  valuesOf: (r: number) => Row,
): Pick<PackedRows, 'count' | 'numbers' | 'lengths' | 'text'> {
  const numeric = numericColumns(table);
  const numberCount = numeric.filter(Boolean).length;
  const numbers = new Float64Array(count * numberCount);
  const lengths = new Int32Array(count * (numeric.length - numberCount));
  let text = '';
  let n = 0;
  let s = 0;
  for (let r = 0; r < count; r++) {
    const values = valuesOf(r);
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
  return { count, numbers, lengths, text };
}

/** The rows again, for the load session on the worker. */
export function unpackRows(table: TableDef, packed: PackedRows): StagedRow[] {
  const { lines, raw } = packed;
  const rows: StagedRow[] = new Array<StagedRow>(packed.count);
  let rawAt = 0;
  unpackValues(table, packed, (r, values) => {
    const rawEnd = rawAt + lines[r * 2 + 1]!;
    rows[r] = { line: lines[r * 2]!, raw: raw.slice(rawAt, rawEnd), values, incomplete: packed.incomplete[r] === 1 };
    rawAt = rawEnd;
  });
  return rows;
}

/** A restore's page again: the rows' values. */
export function unpackPage(table: TableDef, packed: PackedRows): Row[] {
  const rows: Row[] = new Array<Row>(packed.count);
  unpackValues(table, packed, (r, values) => (rows[r] = values));
  return rows;
}

function unpackValues(table: TableDef, packed: PackedRows, each: (r: number, values: Row) => void): void {
  const numeric = numericColumns(table);
  const { numbers, lengths, text } = packed;
  let n = 0;
  let s = 0;
  let at = 0;
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
    each(r, values);
  }
}
