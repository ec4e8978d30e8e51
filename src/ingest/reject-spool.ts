import { appendFileSync, createReadStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Rejection } from '../store/store.js';

const IN_MEMORY = 1000;
const FIRST_ERRORS = 100;

/**
 * Keeps every rejected row of an upload without holding them all in memory: past a thousand
 * they spill to a temporary file, read back once when the upload's log is written.
 */
export class RejectSpool {
  private buffer: Rejection[] = [];
  private dir: string | undefined;
  private file: string | undefined;
  private earliest: Rejection[] = [];
  count = 0;

  add(rejection: Rejection): void {
    this.count++;
    this.buffer.push(rejection);
    this.earliest.push(rejection);
    if (this.earliest.length >= FIRST_ERRORS * 2) this.trimEarliest();
    if (this.buffer.length >= IN_MEMORY) this.spill();
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
  }
}
