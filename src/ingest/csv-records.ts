import { COMMA, CR, LF, QUOTE } from '../lib/bytes.js';

/**
 * An incremental RFC 4180 reader that knows where each record starts.
 *
 * Why not csv-parse or papaparse: the service must name the 1-based line where every record
 * starts and keep its text verbatim for the rejects log. csv-parse's `info.lines` counts a CRLF
 * inside a quoted field twice and its `raw` text shifts delimiters between records when the
 * record delimiter is CRLF; papaparse gives character offsets only. Checked in
 * test/ingest/csv-records.test.ts against Python's csv module semantics.
 */

/** One record of the file: its start line, its fields and its text as sent. */
export interface CsvRecord {
  line: number;
  fields: string[];
  raw: string;
}

/** The file cannot be read as CSV from `line` on; no row rule covers it. */
export class CsvSyntaxError extends Error {
  constructor(
    message: string,
    readonly line: number,
  ) {
    super(message);
    this.name = 'CsvSyntaxError';
  }
}

/** Feed text with `push`, then call `end`; each returns the records completed so far. */
export class CsvRecordReader {
  /** Unparsed text: the start of a record whose end has not arrived yet. */
  private rest = '';
  /** Line number where `rest` starts. */
  private line = 1;

  /** @param maxRecordBytes the longest record, in UTF-8 bytes as sent (CSV_MAX_RECORD_BYTES). */
  constructor(private readonly maxRecordBytes = 64 * 1024) {}

  /**
   * The line after everything pushed so far (where a byte that could not be decoded next would
   * be), and whether that text ends with a CR, whose LF may open the next piece.
   */
  position(): { line: number; pendingCr: boolean } {
    const n = this.rest.length;
    const pendingCr = n > 0 && this.rest.charCodeAt(n - 1) === CR;
    return { line: this.line + breaksIn(this.rest, 0, pendingCr ? n - 1 : n, true), pendingCr };
  }

  /** No record is half read: the next text starts a line (the byte path may take it, copy-scan.ts). */
  get idle(): boolean {
    return this.rest === '';
  }

  /** Lines read elsewhere (by the byte path) while idle: the next text starts `lines` further on. */
  advance(lines: number): void {
    if (!this.idle) throw new Error('advance() while a record is half read');
    this.line += lines;
  }

  /** A UTF-16 unit is at most 3 UTF-8 bytes: only text long enough to be too long is measured. */
  private tooLong(text: string): boolean {
    return text.length * 3 > this.maxRecordBytes && Buffer.byteLength(text, 'utf8') > this.maxRecordBytes;
  }

  push(text: string): CsvRecord[] {
    const out: CsvRecord[] = [];
    this.parse(this.rest === '' ? text : this.rest + text, false, out);
    return out;
  }

  end(): CsvRecord[] {
    const out: CsvRecord[] = [];
    this.parse(this.rest, true, out);
    this.rest = '';
    return out;
  }

  private parse(text: string, final: boolean, out: CsvRecord[]): void {
    const n = text.length;
    let i = 0;
    let line = this.line;
    while (i < n) {
      const c = text.charCodeAt(i);
      // Blank lines are skipped but counted. A CR at the end of a chunk waits for its LF.
      if (c === LF) {
        line++;
        i++;
        continue;
      }
      if (c === CR) {
        if (i + 1 >= n && !final) break;
        i += i + 1 < n && text.charCodeAt(i + 1) === LF ? 2 : 1;
        line++;
        continue;
      }
      const record = this.readRecord(text, i, final, line);
      if (record === undefined) break;
      if (this.tooLong(record.raw)) {
        throw new CsvSyntaxError(`line ${line}: record longer than ${this.maxRecordBytes} bytes`, line);
      }
      out.push(record);
      line = this.nextLine;
      i = this.next;
    }
    this.rest = i < n ? text.slice(i) : '';
    this.line = line;
    if (this.tooLong(this.rest)) {
      throw new CsvSyntaxError(`line ${line}: record longer than ${this.maxRecordBytes} bytes`, line);
    }
  }

  /** Where the record `readRecord` returned last ends, and the line after it (no object per record). */
  private next = 0;
  private nextLine = 1;

  /** Reads the record at `start`; undefined when its end is not in `text` yet. Sets `next` and `nextLine`. */
  private readRecord(text: string, start: number, final: boolean, line: number): CsvRecord | undefined {
    const n = text.length;
    const fields: string[] = [];
    let j = start;
    let quoted = false;
    for (;;) {
      if (j < n && text.charCodeAt(j) === QUOTE) {
        quoted = true;
        let value = '';
        let segment = j + 1;
        let k = segment;
        for (;;) {
          const q = text.indexOf('"', k);
          if (q === -1 || (q + 1 >= n && !final)) {
            if (final) throw new CsvSyntaxError(`line ${line}: quoted field is never closed`, line);
            return undefined;
          }
          if (q + 1 < n && text.charCodeAt(q + 1) === QUOTE) {
            value += text.slice(segment, q + 1);
            k = q + 2;
            segment = k;
            continue;
          }
          value += text.slice(segment, q);
          j = q + 1;
          break;
        }
        // Text after a closing quote is kept as is (Python's csv does the same).
        const end = fieldEnd(text, j);
        fields.push(end === j ? value : value + text.slice(j, end));
        j = end;
      } else {
        const end = fieldEnd(text, j);
        fields.push(text.slice(j, end));
        j = end;
      }
      if (j >= n) {
        if (!final) return undefined;
        this.next = n;
        this.nextLine = line + breaksIn(text, start, n, quoted);
        return { line, fields, raw: text.slice(start, n) };
      }
      const d = text.charCodeAt(j);
      if (d === COMMA) {
        j++;
        continue;
      }
      if (d === CR && j + 1 >= n && !final) return undefined;
      this.next = d === CR && j + 1 < n && text.charCodeAt(j + 1) === LF ? j + 2 : j + 1;
      this.nextLine = line + 1 + breaksIn(text, start, j, quoted);
      return { line, fields, raw: text.slice(start, j) };
    }
  }
}

function fieldEnd(text: string, from: number): number {
  const n = text.length;
  let j = from;
  while (j < n) {
    const c = text.charCodeAt(j);
    if (c === COMMA || c === LF || c === CR) return j;
    j++;
  }
  return n;
}

/** Line breaks (LF, CRLF or a lone CR) inside a record; only quoted fields can hold them. */
function breaksIn(text: string, from: number, to: number, quoted: boolean): number {
  if (!quoted) return 0;
  let count = 0;
  for (let k = from; k < to; k++) {
    const c = text.charCodeAt(k);
    if (c === LF) count++;
    else if (c === CR && text.charCodeAt(k + 1) !== LF) count++;
  }
  return count;
}
