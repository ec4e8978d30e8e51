import { appendFileSync, createReadStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Rejection } from '../store/store.js';

const IN_MEMORY = 1000;
/** Raw text (UTF-16 units) held before a spill: 1,000 records of 64 KiB would be 64 MiB of heap. */
const IN_MEMORY_CHARS = 1 << 20;
const FIRST_ERRORS = 100;

/**
 * Keeps every rejected row of an upload without holding them all in memory: past a thousand
 * they spill to a temporary file, read back once when the upload's log is written.
 */
export class RejectSpool {
  private buffer: Rejection[] = [];
  private dir: string | undefined;
  private file: string | undefined;
  private bufferChars = 0;
  /** The first errors' lines and reasons (reasons quote at most 60 characters of a field), never the records. */
  private earliest: { line: number; reason: string }[] = [];
  count = 0;

  add(rejection: Rejection): void {
    this.count++;
    // A copy of the record: as a slice of the body's text it would keep its whole 64 KiB piece
    // alive (V8 sliced strings), a thousand rejects from a thousand pieces 64 MB or more.
    this.buffer.push({ line: rejection.line, raw: Buffer.from(rejection.raw).toString(), reason: rejection.reason });
    this.bufferChars += rejection.raw.length;
    this.earliest.push({ line: rejection.line, reason: rejection.reason });
    if (this.earliest.length >= FIRST_ERRORS * 2) this.trimEarliest();
    if (this.buffer.length >= IN_MEMORY || this.bufferChars >= IN_MEMORY_CHARS) this.spill();
  }

  /** The first hundred rejections by line. */
  firstErrors(): { line: number; reason: string }[] {
    this.trimEarliest();
    return this.earliest.map(({ line, reason }) => ({ line, reason }));
  }

  async *read(): AsyncIterable<Rejection> {
    if (this.file !== undefined) {
      const lines = createInterface({ input: createReadStream(this.file, 'utf8'), crlfDelay: Infinity });
      for await (const text of lines) yield JSON.parse(text) as Rejection;
    }
    yield* this.buffer;
  }

  dispose(): void {
    if (this.dir !== undefined) rmSync(this.dir, { recursive: true, force: true });
    this.dir = this.file = undefined;
  }

  private trimEarliest(): void {
    this.earliest.sort((a, b) => a.line - b.line);
    this.earliest.length = Math.min(this.earliest.length, FIRST_ERRORS);
  }

  private spill(): void {
    if (this.file === undefined) {
      this.dir = mkdtempSync(join(tmpdir(), 'hr-rejects-'));
      this.file = join(this.dir, 'rejects.ndjson');
    }
    appendFileSync(this.file, this.buffer.map((r) => JSON.stringify(r)).join('\n') + '\n');
    this.buffer = [];
    this.bufferChars = 0;
  }
}
