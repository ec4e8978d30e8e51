/**
 * The ingest's fast paths (canonical UTC instants without the regular expression, plain-digit
 * integers and plain text without result objects) must answer exactly what the general code
 * answers, for valid and invalid input alike.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { normalizeInstant } from '../../src/ingest/instant.js';
import { checkFields, convertField, type RowCheck } from '../../src/ingest/row-rules.js';
import { TABLES, type Row } from '../../src/tables.js';

/** checkFields as written before its fast path: convertField for every non-empty field. */
function reference(fields: string[], strict: boolean): RowCheck {
  const columns = TABLES.hired_employees.columns;
  if (fields.length !== columns.length) return checkFields(TABLES.hired_employees, fields, strict);
  const values: Row = [];
  let incomplete = false;
  for (let i = 0; i < columns.length; i++) {
    const column = columns[i]!;
    const text = fields[i]!;
    if (text === '') {
      if (column.primaryKey) return { ok: false, reason: `${column.name} is empty`, field: column.name };
      if (strict) return { ok: false, reason: `${column.name} is empty (strict mode)`, field: column.name };
      values.push(null);
      incomplete = true;
      continue;
    }
    const converted = convertField(column, text);
    if ('reason' in converted) return { ok: false, reason: converted.reason, field: column.name };
    values.push(converted.value);
  }
  return { ok: true, values, incomplete };
}

const pad = (n: number, width: number) => String(n).padStart(width, '0');
/** 20-character texts of the canonical shape, often invalid: day 31 of any month, hour 24, year 0, a letter for a digit. */
const canonicalShaped = fc
  .tuple(
    fc.integer({ min: 0, max: 9999 }),
    fc.integer({ min: 0, max: 13 }),
    fc.integer({ min: 0, max: 32 }),
    fc.integer({ min: 0, max: 25 }),
    fc.integer({ min: 0, max: 61 }),
    fc.integer({ min: 0, max: 61 }),
    fc.constantFrom('T', 't', ' ', 'X'),
    fc.constantFrom('Z', 'z', '+'),
    fc.option(fc.integer({ min: 0, max: 19 }), { freq: 5 }),
  )
  .map(([y, mo, d, h, mi, s, t, z, letterAt]) => {
    const text = `${pad(y, 4)}-${pad(mo, 2)}-${pad(d, 2)}${t}${pad(h, 2)}:${pad(mi, 2)}:${pad(s, 2)}${z}`;
    return letterAt === null ? text : `${text.slice(0, letterAt)}a${text.slice(letterAt + 1)}`;
  });

const field = fc.oneof(
  fc.constantFrom(
    '',
    '0',
    '00',
    '1',
    '+1',
    '-1',
    ' 7',
    '7 ',
    '007',
    '9007199254740991',
    '9007199254740992',
    '999999999999999',
    '1e3',
    '0x10',
  ),
  fc.stringMatching(/^[0-9]{1,17}$/),
  fc.string({ maxLength: 6 }),
);

describe('ingest fast paths', () => {
  it('normalizeInstant: a whole-second UTC instant gains .000 when real, else undefined, as Date and the general parser say', () => {
    fc.assert(
      fc.property(canonicalShaped, (text) => {
        const result = normalizeInstant(text);
        const date = new Date(text);
        // Year 0 is a valid ISO year for Date, not for the service (years 0001-9999).
        const real =
          !text.startsWith('0000') &&
          /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/.test(text) &&
          !Number.isNaN(date.getTime()) &&
          date.toISOString() === `${text.slice(0, 19)}.000Z`;
        if (real) expect(result).toBe(date.toISOString());
        else if (/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/.test(text)) expect(result).toBeUndefined();
        // Other shapes (t, space, z, a letter) go to the general parser: a normalized instant or undefined.
        else if (result !== undefined) expect(result).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      }),
      { numRuns: 20_000 },
    );
  });

  it('checkFields answers what convertField answers, field by field, for valid and invalid rows', () => {
    const name = fc.oneof(fc.constantFrom('', 'Ann', 'A\u0000B', 'bad \uFFFD', ' spaced '), fc.string({ maxLength: 8 }));
    const datetime = fc.oneof(
      canonicalShaped,
      fc.constantFrom('', '2021-03-31T23:30:00-03:00', ' 2021-01-01T00:00:00Z', '2021-01-01T00:00:00Z '),
    );
    fc.assert(
      fc.property(field, name, datetime, field, field, fc.boolean(), (id, n, dt, dep, job, strict) => {
        const fields = [id, n, dt, dep, job];
        expect(checkFields(TABLES.hired_employees, fields, strict)).toEqual(reference(fields, strict));
      }),
      { numRuns: 20_000 },
    );
  });
});
