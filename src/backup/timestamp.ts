import avro from 'avsc';
import { formatInstant, normalizeInstant } from '../ingest/instant.js';

// Years 0001–9999 only, as the row rules allow (instant.ts): the stored text has 4-digit years.
const MIN_MS = new Date('0001-01-01T00:00:00Z').getTime();
const MAX_MS = new Date('9999-12-31T23:59:59.999Z').getTime();

/** The stored canonical UTC text of an instant given in epoch milliseconds. */
export function instantFromMillis(ms: number): string {
  if (!Number.isSafeInteger(ms) || ms < MIN_MS || ms > MAX_MS) throw new RangeError(`instant out of range (years 0001–9999): ${ms} ms`);
  return formatInstant(new Date(ms));
}

/** Epoch milliseconds of a stored instant (canonical UTC text); undefined when it is not one. */
export function millisFromInstant(text: string): number | undefined {
  const ms = Date.parse(text);
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
