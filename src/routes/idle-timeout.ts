import type { Readable } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AppError, SourceAbortedError } from '../errors.js';

/**
 * The two ends of a long request: a body that stops arriving (an upload's, a restore's) and a
 * response the client stops reading (a backup, rejects.csv). Either would hold the table's write
 * turn, or a page cursor, for as long as the client likes; each has one deadline, written here once.
 */

export interface BodyOptions {
  /** Longest wait for the next bytes, in ms (0: none). */
  idleTimeoutMs: number;
  /** What would not be done, for the 408's message (`written`, `restored`). */
  nothing: string;
  /** Bytes past which the body is a 413 (checked as it arrives); undefined: the stream's own limit. */
  maxBytes?: number;
  /** Checked once the body has ended (a multipart file truncated at its size limit). */
  atEnd?: () => void;
}

/**
 * A request body's chunks as they arrive: a client silent for `idleTimeoutMs` is a 408, more
 * than `maxBytes` a 413, a client gone mid-body a SourceAbortedError. Reading stops at the error,
 * the request left open (destroying it would cut the answer's socket): the error handler closes
 * the connection after its answer.
 */
export async function* readBody(request: FastifyRequest, stream: Readable, options: BodyOptions): AsyncIterable<Buffer> {
  const chunks = stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  let bytes = 0;
  try {
    for (;;) {
      const next = await withIdleTimeout(chunks.next(), options.idleTimeoutMs, options.nothing);
      if (next.done === true) break;
      bytes += next.value.length;
      if (options.maxBytes !== undefined && bytes > options.maxBytes) {
        throw new AppError('PAYLOAD_TOO_LARGE', `The file is larger than ${options.maxBytes} bytes`);
      }
      yield next.value;
    }
  } catch (error) {
    if (error instanceof AppError) throw error;
    if (request.raw.destroyed || request.raw.readableAborted || (error as { code?: string }).code === 'ECONNRESET') {
      throw new SourceAbortedError('the client went away');
    }
    throw error;
  }
  options.atEnd?.();
}

/** The next chunk, or a 408 when the client sends nothing for `ms` while we wait for it. */
function withIdleTimeout<T>(next: Promise<T>, ms: number, nothing: string): Promise<T> {
  if (ms <= 0) return next;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(
      () => reject(new AppError('REQUEST_TIMEOUT', `No bytes of the file arrived for ${ms} ms; nothing was ${nothing}`)),
      ms,
    );
  });
  return Promise.race([next, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Cuts a streamed response whose client has stopped reading: when bytes wait to be sent and the
 * socket has taken none of them for `idleTimeoutMs`, the socket is destroyed (logged at warn),
 * which ends the response's stream and with it the export feeding it (its pages, its slot).
 * A response waiting on the server (the next page not read yet) is never cut: nothing is waiting
 * to be sent then.
 */
export function cutWhenStalled(request: FastifyRequest, reply: FastifyReply, idleTimeoutMs: number): void {
  const socket = reply.raw.socket;
  // No real socket (app.inject's stand-in counts no bytes): nothing to watch.
  if (socket === null || idleTimeoutMs <= 0 || typeof socket.bytesWritten !== 'number') return;
  let mark = -1;
  let pending = -1;
  let since = Date.now();
  const timer = setInterval(
    () => {
      // bytesWritten grows as the response hands bytes to the socket; writableLength shrinks as the
      // kernel takes them: either moving is progress, and so is having nothing to send.
      const written = socket.bytesWritten;
      const waiting = socket.writableLength;
      if (written !== mark || waiting !== pending || waiting === 0) {
        mark = written;
        pending = waiting;
        since = Date.now();
        return;
      }
      if (Date.now() - since < idleTimeoutMs) return;
      clearInterval(timer);
      request.log.warn({ idle_ms: Date.now() - since, bytes_sent: written }, 'download cut: the client stopped reading');
      socket.destroy();
    },
    Math.max(25, Math.min(1000, Math.floor(idleTimeoutMs / 4))),
  );
  timer.unref();
  reply.raw.once('close', () => clearInterval(timer));
}

/**
 * An AbortSignal that aborts when the client goes before its answer is sent: handed to the
 * store's waits, so a write whose client has gone is not executed (and one under way is rolled back).
 */
export function clientSignal(request: FastifyRequest, reply: FastifyReply): AbortSignal {
  const controller = new AbortController();
  const socket = request.raw.socket;
  if (socket === null || socket.destroyed || socket.readableEnded) {
    controller.abort();
    return controller.signal;
  }
  // A client that closes its end (FIN) is gone too: Node keeps such a socket half-open for the
  // answer, and would only say 'close' once that is written. HTTP clients do not half-close
  // while they wait for an answer.
  const onGone = (): void => {
    if (!reply.raw.writableFinished) controller.abort();
  };
  socket.once('end', onGone);
  reply.raw.once('close', onGone);
  reply.raw.once('finish', () => socket.off('end', onGone));
  return controller.signal;
}
