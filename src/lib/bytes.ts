/**
 * The ASCII bytes that the byte-level readers and writers look for (the CSV reader, the upload's
 * COPY scan, COPY text to and from Avro), and the calendar table their date checks share.
 */
export const NUL = 0;
export const TAB = 9;
export const LF = 10;
export const CR = 13;
export const QUOTE = 34;
export const COMMA = 44;
export const MINUS = 45;
export const ZERO = 48;
/** The N of COPY's `\N` (NULL). */
export const N = 78;
export const BACKSLASH = 92;

/** Days in each month of a common year. */
export const DAYS_IN_MONTH: readonly number[] = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/**
 * `buf`, or a larger copy of its first `at` bytes, so that `n` more bytes fit after `at`: the
 * output buffer of a byte writer, grown by doubling.
 */
export function withRoom(buf: Buffer<ArrayBuffer>, at: number, n: number): Buffer<ArrayBuffer> {
  if (at + n <= buf.length) return buf;
  const bigger = Buffer.allocUnsafe(Math.max(2 * buf.length, at + n));
  buf.copy(bigger, 0, 0, at);
  return bigger;
}
