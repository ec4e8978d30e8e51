import type { ColumnDef, Row, TableDef } from '../tables.js';
import { normalizeInstant } from './instant.js';

/** The result of checking one record against its table's rules. */
export type RowCheck = { ok: true; values: Row; incomplete: boolean } | { ok: false; reason: string; field?: string };

const INTEGER = /^[+-]?\d+$/;

/**
 * Integers and datetimes may be padded with ASCII spaces and tabs, nothing else: JavaScript's
 * `trim()` would also drop NBSP, a byte order mark in the middle of a file, line separators and
 * other Unicode spaces, which in HR data mean the field is not what it looks like.
 */
const PADDING = /^[ \t]+|[ \t]+$/g;
const unpad = (text: string): string =>
  text.length > 0 && (isPad(text, 0) || isPad(text, text.length - 1)) ? text.replace(PADDING, '') : text;
const isPad = (text: string, i: number): boolean => {
  const c = text.charCodeAt(i);
  return c === 32 || c === 9;
};

/**
 * Converts one text field to its stored value, or returns the reason it is invalid.
 * Integers are positive and within 2^53 (JavaScript and JSON lose precision beyond).
 */
export function convertField(column: ColumnDef, text: string): { value: string | number } | { reason: string } {
  switch (column.type) {
    case 'integer': {
      const trimmed = unpad(text);
      if (!INTEGER.test(trimmed)) return { reason: `${column.name} is not an integer: ${quote(text)}` };
      const n = Number(trimmed);
      if (!Number.isSafeInteger(n)) return { reason: `${column.name} is out of range (max ${Number.MAX_SAFE_INTEGER}): ${quote(text)}` };
      if (n <= 0) return { reason: `${column.name} must be a positive integer: ${quote(text)}` };
      return { value: n };
    }
    case 'datetime': {
      const instant = normalizeInstant(unpad(text));
      return instant === undefined
        ? { reason: `${column.name} is not a valid ISO 8601 instant with a UTC offset: ${quote(text)}` }
        : { value: instant };
    }
    case 'text':
      // PostgreSQL cannot store NUL in text; reject it on both backends so they agree.
      // Bytes that are not UTF-8 never get here (the upload fails CSV_MALFORMED); a U+FFFD that
      // was sent as such (EF BF BD) is data like any other character.
      if (text.includes('\u0000')) return { reason: `${column.name} contains a NUL character` };
      return { value: text };
  }
}

const quote = (text: string): string => JSON.stringify(text.length > 60 ? `${text.slice(0, 60)}…` : text);

/**
 * Checks one CSV record (already split into fields) against its table.
 * An empty field other than the primary key becomes NULL and marks the row incomplete;
 * in strict mode an incomplete row is rejected instead.
 */
export function checkFields(table: TableDef, fields: readonly string[], strict: boolean): RowCheck {
  const columns = table.columns;
  if (fields.length !== columns.length) {
    return { ok: false, reason: `expected ${columns.length} fields (${columns.map((c) => c.name).join(', ')}), found ${fields.length}` };
  }
  const values: Row = new Array<Row[number]>(columns.length);
  let incomplete = false;
  for (let i = 0; i < columns.length; i++) {
    const column = columns[i]!;
    const text = fields[i]!;
    if (text === '') {
      if (column.primaryKey) return { ok: false, reason: `${column.name} is empty`, field: column.name };
      if (strict) return { ok: false, reason: `${column.name} is empty (strict mode)`, field: column.name };
      values[i] = null;
      incomplete = true;
      continue;
    }
    const fast = quickConvert(column, text);
    if (fast !== undefined) {
      values[i] = fast;
      continue;
    }
    const converted = convertField(column, text);
    if ('reason' in converted) return { ok: false, reason: converted.reason, field: column.name };
    values[i] = converted.value;
  }
  return { ok: true, values, incomplete };
}

/**
 * The value `convertField` gives a valid field of the common shapes (plain digits, a canonical
 * UTC instant, text without NUL), without its result objects; undefined for anything
 * else, which `convertField` then answers. Called for each of millions of fields per upload.
 */
function quickConvert(column: ColumnDef, text: string): string | number | undefined {
  switch (column.type) {
    case 'integer': {
      const n = text.length;
      if (n > 15) return undefined;
      let value = 0;
      for (let i = 0; i < n; i++) {
        const d = text.charCodeAt(i) - 48;
        if (d < 0 || d > 9) return undefined;
        value = value * 10 + d;
      }
      return value > 0 ? value : undefined;
    }
    case 'datetime':
      return normalizeInstant(text);
    case 'text':
      return text.includes('\u0000') ? undefined : text;
  }
}
