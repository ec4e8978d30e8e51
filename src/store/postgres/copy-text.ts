import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { PoolClient } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';

export type CopyValue = string | number | boolean | null;

const SPECIAL = /[\\\n\r\t\0]/;
const ESCAPES: Record<string, string> = { '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t', '\0': '\uFFFD' };

/**
 * One value in COPY's text format: backslash, newline, carriage return and tab escaped, `\N` for
 * NULL. PostgreSQL text cannot hold NUL; it only reaches here inside a rejected row's raw text,
 * where it becomes U+FFFD.
 */
export function copyField(value: CopyValue): string {
  if (value === null) return '\\N';
  if (typeof value !== 'string') return String(value);
  return SPECIAL.test(value) ? value.replace(/[\\\n\r\t\0]/g, (c) => ESCAPES[c]!) : value;
}

/** One row in COPY's text format, newline included. */
export function copyLine(values: readonly CopyValue[]): string {
  // A loop, not map + join: two temporary arrays less per row of a bulk load.
  let line = copyField(values[0] ?? null);
  for (let i = 1; i < values.length; i++) line += '\t' + copyField(values[i]!);
  return line + '\n';
}

/**
 * Runs `COPY … FROM STDIN` (text format) on a client, streaming `text` pieces with back-pressure.
 * Resolves with the rows copied once the server has them.
 */
export async function copyIn(
  client: PoolClient,
  sql: string,
  text: Iterable<string | Buffer> | AsyncIterable<string | Buffer>,
): Promise<number> {
  const stream = client.query(copyFrom(sql));
  await pipeline(Readable.from(text, { objectMode: false }), stream);
  return stream.rowCount;
}

/** Where a failed COPY's late writes go (see copyText). */
const DROPPED = {
  stream: { write: () => true, once: (_event: string, callback: () => void) => callback() },
  sendCopyFail: () => undefined,
};

/**
 * Runs `COPY … FROM STDIN` of one piece of COPY text. Unlike a pipeline, it survives the server
 * rejecting the data part-way (a unique violation): pg-copy-streams then forgets its connection
 * but may still be waiting for the socket to drain, and would write the rest (CopyDone) to a
 * connection it no longer has. Those late writes are dropped here, as the server drops them.
 * `connection` is private to pg-copy-streams: the library is pinned to the exact version this was
 * written against (package.json), and test/exactness/library-patches.test.ts fails when the
 * installed one differs or no longer behaves so.
 */
export function copyText(client: PoolClient, sql: string, text: string | readonly Buffer[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const stream = client.query(copyFrom(sql));
    stream.once('error', (error) => {
      // After the listeners run, pg-copy-streams sets its connection to null.
      queueMicrotask(() => {
        (stream as unknown as { connection: unknown }).connection = DROPPED;
      });
      reject(error);
    });
    stream.once('finish', () => resolve(stream.rowCount));
    if (typeof text === 'string') stream.end(text);
    else {
      for (const piece of text) stream.write(piece);
      stream.end();
    }
  });
}
