import avro from 'avsc';
import { normalizeInstant } from '../ingest/instant.js';
import { DAYS_IN_MONTH } from '../lib/bytes.js';

// Years 0001–9999 only, as the row rules allow (instant.ts): the stored text has 4-digit years.
const MIN_MS = new Date('0001-01-01T00:00:00Z').getTime();
const MAX_MS = new Date('9999-12-31T23:59:59.999Z').getTime();
const DAY_MS = 86_400_000;
/** Days from 0000-03-01 to 1970-01-01 in the proleptic Gregorian calendar (days_from_civil below). */
const EPOCH_SHIFT = 719_468;

/** What instantParts last computed: year, month, day, hour, minute, second, millisecond. */
const PARTS = new Int32Array(7);

/**
 * The calendar fields of an instant given in epoch milliseconds, UTC (H. Hinnant's
 * civil_from_days, integer arithmetic only), in one array reused by every call: no object per
 * row. Throws a RangeError outside years 0001–9999.
 */
export function instantParts(ms: number): Int32Array {
  if (!Number.isSafeInteger(ms) || ms < MIN_MS || ms > MAX_MS) throw new RangeError(`instant out of range (years 0001–9999): ${ms} ms`);
  const days = Math.floor(ms / DAY_MS);
  let rest = ms - days * DAY_MS;
  const z = days + EPOCH_SHIFT;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const m = mp < 10 ? mp + 3 : mp - 9;
  PARTS[0] = yoe + era * 400 + (m <= 2 ? 1 : 0);
  PARTS[1] = m;
  PARTS[2] = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const milli = rest % 1000;
  rest = (rest - milli) / 1000;
  const s = rest % 60;
  rest = (rest - s) / 60;
  const mi = rest % 60;
  PARTS[3] = (rest - mi) / 60;
  PARTS[4] = mi;
  PARTS[5] = s;
  PARTS[6] = milli;
  return PARTS;
}

/** Bytes of the canonical text: `YYYY-MM-DDTHH:MM:SS.sssZ`. */
export const INSTANT_BYTES = 24;

/**
 * The stored canonical UTC text of an instant given in epoch milliseconds
 * (`YYYY-MM-DDTHH:MM:SS.sssZ`, as formatInstant writes it), built as a flat string:
 * Date#toISOString took ~0.8 µs a row, the largest single cost of a restore (profiled: 0.7 s of
 * 1M rows); this takes a fifth of it.
 */
export const instantFromMillis = (ms: number): string => instantText(instantParts(ms));

/** The canonical text of instantParts' fields. */
export function instantText(p: Int32Array): string {
  const y = p[0]!;
  const m = p[1]!;
  const d = p[2]!;
  const h = p[3]!;
  const mi = p[4]!;
  const s = p[5]!;
  const milli = p[6]!;
  return String.fromCharCode(
    48 + Math.floor(y / 1000),
    48 + (Math.floor(y / 100) % 10),
    48 + (Math.floor(y / 10) % 10),
    48 + (y % 10),
    45,
    48 + Math.floor(m / 10),
    48 + (m % 10),
    45,
    48 + Math.floor(d / 10),
    48 + (d % 10),
    84,
    48 + Math.floor(h / 10),
    48 + (h % 10),
    58,
    48 + Math.floor(mi / 10),
    48 + (mi % 10),
    58,
    48 + Math.floor(s / 10),
    48 + (s % 10),
    46,
    48 + Math.floor(milli / 100),
    48 + (Math.floor(milli / 10) % 10),
    48 + (milli % 10),
    90,
  );
}

/**
 * Writes the canonical text of an instant (see instantFromMillis), given as instantParts' fields,
 * into `out` at `pos` as ASCII bytes; returns the position after it.
 */
export function writeInstant(out: Buffer, pos: number, p: Int32Array): number {
  const y = p[0]!;
  out[pos] = 48 + Math.floor(y / 1000);
  out[pos + 1] = 48 + (Math.floor(y / 100) % 10);
  out[pos + 2] = 48 + (Math.floor(y / 10) % 10);
  out[pos + 3] = 48 + (y % 10);
  out[pos + 4] = 45;
  out[pos + 7] = 45;
  out[pos + 10] = 84;
  out[pos + 13] = 58;
  out[pos + 16] = 58;
  for (let f = 1, at = pos + 5; f <= 5; f++, at += 3) {
    const v = p[f]!;
    out[at] = 48 + Math.floor(v / 10);
    out[at + 1] = 48 + (v % 10);
  }
  const milli = p[6]!;
  out[pos + 19] = 46;
  out[pos + 20] = 48 + Math.floor(milli / 100);
  out[pos + 21] = 48 + (Math.floor(milli / 10) % 10);
  out[pos + 22] = 48 + (milli % 10);
  out[pos + 23] = 90;
  return pos + INSTANT_BYTES;
}

const digit = (text: string, i: number): number => {
  const d = text.charCodeAt(i) - 48;
  return d >= 0 && d <= 9 ? d : Number.NaN;
};
const digits = (text: string, at: number, n: number): number => {
  let v = 0;
  for (let i = at; i < at + n; i++) v = v * 10 + digit(text, i);
  return v;
};

/**
 * Epoch milliseconds of the canonical text (`YYYY-MM-DDTHH:MM:SS.sssZ`), or NaN when the text is
 * not that shape or not a real instant. Integer arithmetic (days_from_civil): a third of
 * Date.parse's time, and every stored instant has this shape.
 */
function canonicalMillis(text: string): number {
  if (
    text.length !== 24 ||
    text.charCodeAt(4) !== 45 ||
    text.charCodeAt(7) !== 45 ||
    text.charCodeAt(10) !== 84 ||
    text.charCodeAt(13) !== 58 ||
    text.charCodeAt(16) !== 58 ||
    text.charCodeAt(19) !== 46 ||
    text.charCodeAt(23) !== 90
  ) {
    return Number.NaN;
  }
  let y = digits(text, 0, 4);
  const m = digits(text, 5, 2);
  const d = digits(text, 8, 2);
  const h = digits(text, 11, 2);
  const mi = digits(text, 14, 2);
  const s = digits(text, 17, 2);
  const milli = digits(text, 20, 3);
  // NaN (a non-digit) fails every comparison below.
  if (!(y >= 1 && m >= 1 && m <= 12 && d >= 1 && h <= 23 && mi <= 59 && s <= 59 && milli >= 0)) return Number.NaN;
  const leap = (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
  if (d > (m === 2 && leap ? 29 : DAYS_IN_MONTH[m - 1]!)) return Number.NaN;
  if (m <= 2) y--;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (m > 2 ? m - 3 : m + 9) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return (era * 146_097 + doe - EPOCH_SHIFT) * DAY_MS + ((h * 60 + mi) * 60 + s) * 1000 + milli;
}

/** Epoch milliseconds of a stored instant (canonical UTC text); undefined when it is not one. */
export function millisFromInstant(text: string): number | undefined {
  let ms = canonicalMillis(text);
  if (Number.isNaN(ms)) ms = Date.parse(text);
  return Number.isNaN(ms) ? undefined : ms;
}

/**
 * Avro's `timestamp-millis` (a long, milliseconds since the epoch, UTC) read and written as the
 * stored canonical UTC text (`2021-11-07T02:48:42.000Z`, always with milliseconds), so a restored
 * row is byte for byte the row that was backed up.
 */
export class TimestampMillis extends avro.types.LogicalType {
  protected override _fromValue(ms: number): string {
    return instantFromMillis(ms);
  }

  protected override _toValue(value: unknown): number | undefined {
    return typeof value === 'string' ? millisFromInstant(value) : undefined;
  }

  /**
   * Which writer types this reads (schema evolution): either timestamp logical type, a plain
   * long (taken as epoch milliseconds) or an ISO 8601 string (normalized like a CSV field).
   */
  protected override _resolve(writer: avro.Type): ((value: unknown) => string) | undefined {
    if (writer instanceof TimestampMillis || writer instanceof TimestampMicros) return (value) => value as string;
    if (writer.typeName === 'long' || writer.typeName === 'int') return (value) => instantFromMillis(value as number);
    if (writer.typeName === 'string') {
      return (value) => {
        const instant = normalizeInstant(value as string);
        if (instant === undefined) throw new RangeError(`not an ISO 8601 instant with a UTC offset: ${JSON.stringify(value)}`);
        return instant;
      };
    }
    return undefined;
  }
}

/** Avro's `timestamp-micros`, read from other writers' files (truncated to milliseconds, as stored). */
export class TimestampMicros extends avro.types.LogicalType {
  protected override _fromValue(us: number): string {
    return instantFromMillis(Math.floor(us / 1000));
  }

  protected override _toValue(value: unknown): number | undefined {
    const ms = typeof value === 'string' ? millisFromInstant(value) : undefined;
    return ms === undefined ? undefined : ms * 1000;
  }

  protected override _resolve(writer: avro.Type): ((value: unknown) => string) | undefined {
    if (writer instanceof TimestampMillis || writer instanceof TimestampMicros) return (value) => value as string;
    return undefined;
  }
}

/** The logical types a backup's schema uses, for `Type.forSchema`. */
export const LOGICAL_TYPES = { 'timestamp-millis': TimestampMillis, 'timestamp-micros': TimestampMicros };
