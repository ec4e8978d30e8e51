import { createWriteStream } from 'node:fs';
import { Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { generateCsv, type GenOptions } from './lines.js';

/** Streams a generated file to `out` (a path, or `-` for stdout) with back-pressure; returns its size. */
export async function writeGenerated(options: GenOptions, out: string): Promise<{ rows: number; bytes: number }> {
  let bytes = 0;
  const blocks = Readable.from(
    (function* () {
      for (const block of generateCsv(options)) {
        bytes += Buffer.byteLength(block);
        yield block;
      }
    })(),
  );
  const target: Writable = out === '-' ? process.stdout : createWriteStream(out);
  await pipeline(blocks, target, { end: out !== '-' });
  return { rows: options.rows, bytes };
}
