import type pg from 'pg';
import { withRoom } from '../../lib/bytes.js';

/** Backend messages read here: the COPY's start, a row of data, its end. */
const COPY_OUT_RESPONSE = 0x48; // 'H'
const COPY_DATA = 0x64; // 'd'
const COPY_DONE = 0x63; // 'c'
/** A message's type byte and its length (an int32 that counts itself). */
const HEADER_BYTES = 5;

/**
 * `COPY … TO STDOUT` whose whole output is wanted as one buffer (a backup's page). The rows are
 * read off the connection's socket and copied once, straight into that buffer. pg-copy-streams,
 * used before, made a buffer slice for each row (10M objects for a 10M-row backup), joined the
 * slices per socket read, and the page was joined once more (measured on a 10M-row backup: server
 * CPU 16.7–18.9 → 11.0–13.7 s with the rest of that change, see the README's Performance).
 *
 * Like pg-copy-streams' `to`, it takes the socket's data from pg's parser while the COPY's own
 * messages come in. At the first other message (CommandComplete, an ErrorResponse, a notice) it
 * hands that message and everything after it back to pg, which answers through
 * handleCommandComplete, handleError and handleReadyForQuery as for any query.
 */
export class CopyOutBuffer implements pg.Submittable {
  /** The COPY's output, once PostgreSQL has said it is complete. */
  readonly output: Promise<Buffer>;
  private resolve!: (output: Buffer) => void;
  private reject!: (error: Error) => void;
  private out: Buffer<ArrayBuffer>;
  private length = 0;
  /** Bytes of the current CopyData message's payload not read yet. */
  private unread = 0;
  /** A message header cut by the end of a socket chunk, until the next chunk completes it. */
  private partial: Buffer | undefined;
  private stream: pg.Connection['stream'] | undefined;
  private pgOnData: ((chunk: Buffer) => void) | undefined;
  private readonly onData = (chunk: Buffer): void => this.read(chunk);

  /**
   * `room`: where the output goes (a larger buffer replaces it when it is too small). A caller
   * that reads page after page passes the buffer of a page it is done with: a 10M-row backup
   * then allocates a few page buffers, not 1,250.
   */
  constructor(
    private readonly sql: string,
    room: Buffer<ArrayBuffer> = Buffer.allocUnsafe(64 * 1024),
  ) {
    this.out = room;
    this.output = new Promise((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    // Observed at once: pg may report an error before the caller awaits.
    this.output.catch(() => undefined);
  }

  /** pg's hook: sends the COPY; an Error returned is handed back to handleError by pg. */
  submit(connection: pg.Connection): Error | undefined {
    const stream = connection.stream;
    const listeners = stream.listeners('data') as ((chunk: Buffer) => void)[];
    if (listeners.length !== 1) return new Error(`COPY TO: the connection's socket has ${listeners.length} data listeners, not pg's one`);
    this.stream = stream;
    this.pgOnData = listeners[0]!;
    stream.removeListener('data', this.pgOnData);
    stream.on('data', this.onData);
    connection.query(this.sql);
    return undefined;
  }

  /** The buffer the output is in, whole: to pass to the next COPY once the output is used. */
  get room(): Buffer<ArrayBuffer> {
    return this.out;
  }

  handleCommandComplete(): void {}

  handleReadyForQuery(): void {
    this.resolve(this.out.subarray(0, this.length));
  }

  handleError(error: Error): void {
    this.detach(undefined);
    this.reject(error);
  }

  /** Rows pg parsed itself: those after a notice in the middle of the COPY. */
  handleCopyData(message: { chunk: Buffer }): void {
    this.append(message.chunk, 0, message.chunk.length);
  }

  /** Never sent for COPY TO; present because pg calls it on any active query that gets one. */
  handleCopyInResponse(): void {}

  private read(chunk: Buffer): void {
    let at = 0;
    if (this.partial !== undefined) {
      chunk = Buffer.concat([this.partial, chunk]);
      this.partial = undefined;
    }
    const n = chunk.length;
    while (at < n) {
      if (this.unread > 0) {
        const take = Math.min(this.unread, n - at);
        this.append(chunk, at, at + take);
        this.unread -= take;
        at += take;
        continue;
      }
      if (n - at < HEADER_BYTES) {
        this.partial = Buffer.from(chunk.subarray(at));
        return;
      }
      const type = chunk[at]!;
      const payload = chunk.readUInt32BE(at + 1) - 4;
      if (type === COPY_DATA) {
        this.unread = payload;
        at += HEADER_BYTES;
      } else if (type === COPY_OUT_RESPONSE || type === COPY_DONE) {
        // Skipped whole (a few bytes): kept for the next chunk when cut.
        if (n - at < HEADER_BYTES + payload) {
          this.partial = Buffer.from(chunk.subarray(at));
          return;
        }
        at += HEADER_BYTES + payload;
      } else {
        // Not a row: pg reads it, and whatever follows, as it would have.
        this.detach(chunk.subarray(at));
        return;
      }
    }
  }

  private append(chunk: Buffer, from: number, to: number): void {
    const bytes = to - from;
    const out = (this.out = withRoom(this.out, this.length, bytes));
    if (bytes < 64) {
      let pos = this.length;
      for (let i = from; i < to; i++) out[pos++] = chunk[i]!;
    } else {
      chunk.copy(out, this.length, from, to);
    }
    this.length += bytes;
  }

  /** Gives the socket back to pg's parser, with `rest` (bytes it must read first), once. */
  private detach(rest: Buffer | undefined): void {
    const stream = this.stream;
    const pgOnData = this.pgOnData;
    if (stream === undefined || pgOnData === undefined) return;
    this.stream = undefined;
    this.pgOnData = undefined;
    stream.removeListener('data', this.onData);
    stream.on('data', pgOnData);
    if (rest !== undefined && rest.length > 0) pgOnData(rest);
  }
}
