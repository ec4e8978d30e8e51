import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { PoolClient } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { ColumnType } from '../../tables.js';

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

/**
 * A row writer for one table's columns, in COPY's text format, newline included: the bulk load's
 * per-row work. Only text columns are searched for characters to escape; a stored integer is a
 * number and a stored instant canonical UTC text (`YYYY-MM-DDTHH:MM:SS.sssZ`), which hold none.
 * Measured on 1M generated rows: a third less time than copyLine.
 */
export function copyLineFor(types: readonly ColumnType[]): (values: readonly CopyValue[]) => string {
  const plain = types.map((t) => t !== 'text');
  return (values) => {
    let line = '';
    for (let i = 0; i < plain.length; i++) {
      const v = values[i];
      const field = v === null || v === undefined ? '\\N' : typeof v !== 'string' ? String(v) : plain[i] ? v : copyField(v);
      line = i === 0 ? field : line + '\t' + field;
    }
    return line + '\n';
  };
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

/**
 * COPY text a CopyWriter holds before `write` waits: the socket is fed from it while the next
 * pieces are made. With the stream's default 16 KiB, every 1,000-row piece waited for the socket
 * to take it, and the server and the parser took turns instead of working side by side.
 */
const IN_FLIGHT_BYTES = 1 << 20;

/**
 * A `COPY … FROM STDIN` (text format) kept open while its text is produced: pieces are written
 * as they are made, so the server parses and inserts rows while the next are built, and `write`
 * waits while the socket is full (the server sets the pace; nothing piles up in memory). Like
 * copyText, it survives the server stopping the COPY part-way (a unique violation): `failure`
 * holds the error, later pieces are dropped, and `end` rejects with it.
 */
export class CopyWriter {
  private readonly stream: ReturnType<typeof copyFrom>;
  private readonly done: Promise<number>;
  /** The COPY's error, once the server (or the connection) has ended it with one. */
  failure: unknown;
  private ended = false;

  constructor(client: PoolClient, sql: string) {
    const stream = client.query(copyFrom(sql, { highWaterMark: IN_FLIGHT_BYTES }));
    this.stream = stream;
    this.done = new Promise((resolve, reject) => {
      stream.once('error', (error) => {
        this.failure ??= error;
        queueMicrotask(() => {
          (stream as unknown as { connection: unknown }).connection = DROPPED;
        });
        reject(error);
      });
      stream.once('finish', () => resolve(stream.rowCount));
    });
    // Observed now so a failure never goes unhandled; `end` returns it.
    this.done.catch(() => undefined);
  }

  /** Writes a piece; resolves once the stream takes more (at once when the COPY has failed). */
  async write(piece: Buffer): Promise<void> {
    if (this.failure !== undefined || this.ended) return;
    if (this.stream.write(piece)) return;
    await new Promise<void>((resolve) => {
      const go = (): void => {
        this.stream.off('drain', go);
        this.stream.off('error', go);
        resolve();
      };
      this.stream.once('drain', go);
      this.stream.once('error', go);
    });
  }

  /** Ends the COPY; resolves with its rows once the server has them, or rejects with its failure. */
  end(): Promise<number> {
    if (!this.ended && this.failure === undefined) this.stream.end();
    this.ended = true;
    return this.done;
  }
}
