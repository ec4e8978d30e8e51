import { DAYS_IN_MONTH } from '../lib/bytes.js';
// ISO 8601 instant: a calendar date, a time and a UTC designator or offset (RFC 3339, plus a
// space instead of `T` and offsets without a colon). Years 0001–9999 only: both databases and
// Avro's timestamp-millis represent them, and year 0 or 10000 is a typo in HR data.
const INSTANT = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?(?:([Zz])|([+-])(\d{2}):?(\d{2}))$/;

const isLeap = (y: number): boolean => (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;

/**
 * Parses an ISO 8601 instant and returns it normalized to UTC in the stored canonical form
 * (`YYYY-MM-DDTHH:MM:SS.sssZ`, see formatInstant), or `undefined` when the text is not a real
 * instant (`2021-02-30T10:00:00Z` is not). Digits past the milliseconds are truncated, not rounded:
 * `…:59.9999Z` is `…:59.999Z`, never the next second (or the next year, on New Year's Eve).
 */
export function normalizeInstant(text: string): string | undefined {
  if (text.length === 20) {
    const canonical = canonicalUtc(text);
    if (canonical !== 'other') return canonical;
  }
  const m = INSTANT.exec(text);
  if (m === null) return undefined;
  const year = Number(m[1]);
  const month = Number(m[2]);
  const day = Number(m[3]);
  const hour = Number(m[4]);
  const minute = Number(m[5]);
  const second = m[6] === undefined ? 0 : Number(m[6]);
  if (year < 1 || month < 1 || month > 12 || day < 1) return undefined;
  const maxDay = month === 2 && isLeap(year) ? 29 : DAYS_IN_MONTH[month - 1]!;
  if (day > maxDay || hour > 23 || minute > 59 || second > 59) return undefined;
  let offsetMinutes = 0;
  if (m[8] === undefined) {
    const oh = Number(m[10]);
    const om = Number(m[11]);
    if (oh > 23 || om > 59) return undefined;
    offsetMinutes = (m[9] === '-' ? -1 : 1) * (oh * 60 + om);
  }
  // Fast path: UTC with whole seconds, as in the historical files.
  if (m[8] === 'Z' && m[6] !== undefined && m[7] === undefined && text[10] === 'T') return wholeSeconds(text);
  const millis = m[7] === undefined ? 0 : Number(m[7].slice(0, 3).padEnd(3, '0'));
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute, second, millis);
  const epoch = date.getTime() - offsetMinutes * 60_000;
  const utc = new Date(epoch);
  const y = utc.getUTCFullYear();
  if (y < 1 || y > 9999) return undefined;
  return formatInstant(utc);
}

/**
 * Formats a Date as the stored canonical UTC text: always with milliseconds, so every stored
 * instant has the same width (24 characters) and text order is time order (SQLite compares the
 * text; `…:59Z` would sort after `…:59.5Z`).
 */
export function formatInstant(date: Date): string {
  // toISOString writes years beyond 9999 or below 0 with a sign; both are excluded upstream.
  return date.toISOString();
}

/** `YYYY-MM-DDTHH:MM:SSZ` in the canonical form: `.000Z` added. */
const wholeSeconds = (text: string): string => `${text.slice(0, 19)}.000Z`;

const digitAt = (text: string, i: number): number => {
  const d = text.charCodeAt(i) - 48;
  return d >= 0 && d <= 9 ? d : Number.NaN;
};
const two = (text: string, i: number): number => digitAt(text, i) * 10 + digitAt(text, i + 1);

/**
 * The common case without the regular expression and its dozen capture strings per row:
 * `YYYY-MM-DDTHH:MM:SSZ` is returned in the canonical form when it is a real instant, or
 * undefined when it is not; anything else is `other`, for the general parser. Same answers as
 * the general path for every 20-character text of that shape (test/ingest/instant.test.ts).
 */
function canonicalUtc(text: string): string | undefined | 'other' {
  if (
    text.charCodeAt(4) !== 45 || // -
    text.charCodeAt(7) !== 45 ||
    text.charCodeAt(10) !== 84 || // T
    text.charCodeAt(13) !== 58 || // :
    text.charCodeAt(16) !== 58 ||
    text.charCodeAt(19) !== 90 // Z
  ) {
    return 'other';
  }
  const year = two(text, 0) * 100 + two(text, 2);
  const month = two(text, 5);
  const day = two(text, 8);
  const hour = two(text, 11);
  const minute = two(text, 14);
  const second = two(text, 17);
  // NaN (a non-digit) fails every comparison below, like the regular expression would.
  if (!(year >= 1 && month >= 1 && month <= 12 && day >= 1 && hour <= 23 && minute <= 59 && second <= 59)) {
    return Number.isNaN(year + month + day + hour + minute + second) ? 'other' : undefined;
  }
  const maxDay = month === 2 && isLeap(year) ? 29 : DAYS_IN_MONTH[month - 1]!;
  return day > maxDay ? undefined : wholeSeconds(text);
}
