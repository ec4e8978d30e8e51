import { createHash, randomUUID, type Hash } from 'node:crypto';
import { pipeline, Transform, type Readable } from 'node:stream';
import type { MultipartFile } from '@fastify/multipart';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { AppError } from '../errors.js';
import type { IdempotencyAnswer, IdempotencyRef, IdempotentCommit } from '../store/store.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The route honours `Idempotency-Key` (a write whose answer is kept and replayed). */
    idempotent?: boolean;
  }
  interface FastifyRequest {
    /**
     * For a write whose route stores its answer in its own transaction (a batch): the key to
     * answer there, with the answer for the rows written. Undefined without an Idempotency-Key.
     */
    idempotentCommit(answer: (written: number) => { status: number; body: unknown }): IdempotentCommit | undefined;
  }
}

export interface IdempotencyOptions {
  /** How long an answer is kept (IDEMPOTENCY_TTL_HOURS), in ms. */
  ttlMs: number;
  /** Largest body read (and discarded) to compare a repeat's body with the first one's. */
  maxBodyBytes: number;
}

/** A held key is renewed this often while its request runs; a lease twice as long survives one missed renewal. */
const RENEW_MS = 10_000;
const LEASE_MS = 3 * RENEW_MS;
/** Expired keys are purged at start and this often. */
const PURGE_MS = 60 * 60 * 1000;
/** Seconds a repeat of a running request is told to wait. */
const RETRY_AFTER_S = 2;

/** The draft's header is a structured-field string (`"abc"`); a bare token is taken too. */
const KEY = /^"?([\x21\x23-\x7e]{1,255})"?$/;

/** SHA-256 of a request's body, once it has gone by whole; undefined while (or if never) it has. */
interface BodyDigest {
  value?: string;
}

interface Held {
  ref: IdempotencyRef;
  fingerprint: string;
  body: BodyDigest;
  /** The status of an answer already stored in the write's own transaction. */
  storedInTransaction?: number;
  renew?: NodeJS.Timeout;
  settled: boolean;
}

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

const hasBody = (request: FastifyRequest): boolean =>
  request.headers['transfer-encoding'] !== undefined || Number(request.headers['content-length'] ?? 0) > 0;

const isMultipart = (request: FastifyRequest): boolean =>
  (request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase() === 'multipart/form-data';

/** A pass-through that hashes what goes by, and says so once it has seen the end. */
function hashing(onEnd: (digest: string) => void): Transform {
  const hash: Hash = createHash('sha256');
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      hash.update(chunk);
      callback(null, chunk);
    },
    flush(callback) {
      onEnd(hash.digest('hex'));
      callback();
    },
  });
}

/** SHA-256 of a stream read to its end and thrown away; undefined past `maxBytes`. */
async function drainDigest(stream: AsyncIterable<Buffer>, maxBytes: number): Promise<string | undefined> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of stream) {
    bytes += chunk.length;
    if (bytes > maxBytes) return undefined;
    hash.update(chunk);
  }
  return hash.digest('hex');
}

/**
 * Safe retries (the IETF httpapi `Idempotency-Key` draft, as Stripe's API does it) on routes
 * declared `config: { idempotent: true }`. The first request with a key executes and its final
 * answer is stored with a digest of the request (method, path, query: the fingerprint; SHA-256 of
 * the body); a repeat of the same request gets that answer again (`Idempotent-Replayed: true`)
 * without executing; the key with another request is 422 IDEMPOTENCY_KEY_REUSED; a repeat while
 * the first still runs is 409 IDEMPOTENCY_IN_PROGRESS with Retry-After.
 *
 * Streamed bodies (CSV, Avro, multipart) are hashed as the route reads them: the first request's
 * digest is known once its body has been read whole. A repeat reads its own body to the end,
 * hashing and discarding it, and is answered only if both digests are equal. For multipart, the
 * digest is of the file part's bytes (curl picks a new boundary on every call).
 *
 * Kept: 2xx answers, and 4xx answers of requests that did nothing, when the body was read whole.
 * Not kept (the key is freed, so a retry executes): 5xx (503 BUSY included), 408, 429, 499, and
 * answers given before the body was read (nothing done, nothing to compare a retry with).
 */
export default fp(
  async function idempotency(app: FastifyInstance, options: IdempotencyOptions) {
    const held = new WeakMap<FastifyRequest, Held>();
    const bodies = new WeakMap<FastifyRequest, BodyDigest>();
    const store = app.store.idempotency;

    const purge = (): void => {
      store.purgeExpired().catch((error: unknown) => app.log.warn({ err: error }, 'idempotency keys: purge failed'));
    };
    app.addHook('onReady', async () => purge());
    const purger = setInterval(purge, PURGE_MS);
    purger.unref();
    app.addHook('onClose', async () => clearInterval(purger));

    const keyOf = (request: FastifyRequest): string | undefined => {
      if (request.routeOptions.config.idempotent !== true) return undefined;
      const header = request.headers['idempotency-key'];
      if (header === undefined) return undefined;
      const match = typeof header === 'string' ? KEY.exec(header.trim()) : null;
      if (match === null) {
        throw new AppError('BAD_REQUEST', 'Idempotency-Key must be 1 to 255 visible ASCII characters (a quoted string or a token)');
      }
      return match[1]!;
    };

    app.decorateRequest(
      'idempotentCommit',
      function (this: FastifyRequest, answer: (written: number) => { status: number; body: unknown }) {
        const state = held.get(this);
        const bodyDigest = state?.body.value;
        if (state === undefined || bodyDigest === undefined) return undefined;
        return {
          ref: state.ref,
          ttlMs: options.ttlMs,
          answer: (written: number): IdempotencyAnswer => {
            const { status, body } = answer(written);
            state.storedInTransaction = status;
            return { bodyDigest, status, contentType: 'application/json; charset=utf-8', body: JSON.stringify(body) };
          },
        };
      },
    );

    // Raw bodies (JSON, CSV, Avro) are hashed as Fastify's parser or the route reads them.
    app.addHook('preParsing', async (request, _reply, payload) => {
      if (keyOf(request) === undefined || isMultipart(request) || !hasBody(request)) return payload;
      const body: BodyDigest = {};
      bodies.set(request, body);
      const tap = hashing((digest) => (body.value = digest));
      pipeline(payload, tap, () => undefined);
      return tap;
    });

    app.addHook('preHandler', async (request, reply) => {
      const key = keyOf(request);
      if (key === undefined) return;
      const [path, query = ''] = request.url.split(/\?(.*)/s);
      const fingerprint = sha256(`${request.method}\n${path}\n${query}`);
      const body = bodies.get(request) ?? (hasBody(request) ? {} : { value: sha256('') });
      const state: Held = { ref: { scope: request.caller, key, owner: randomUUID() }, fingerprint, body, settled: false };
      const claim = await store.claim(state.ref, fingerprint, LEASE_MS);
      if (!claim.claimed) {
        const { record } = claim;
        if (record.fingerprint !== fingerprint) throw reused();
        if (record.status === 'in_progress' || record.answer === undefined) {
          throw new AppError('IDEMPOTENCY_IN_PROGRESS', undefined, undefined, RETRY_AFTER_S);
        }
        const digest = body.value ?? (await repeatDigest(request, options.maxBodyBytes));
        if (digest !== record.answer.bodyDigest) throw reused();
        request.log.info({ status: record.answer.status }, 'idempotent replay');
        return reply
          .code(record.answer.status)
          .header('idempotent-replayed', 'true')
          .type(record.answer.contentType)
          .send(record.answer.body);
      }
      held.set(request, state);
      if (isMultipart(request)) tapMultipart(request, body);
      state.renew = setInterval(() => {
        store.renew(state.ref, LEASE_MS).catch(() => undefined);
      }, RENEW_MS);
      state.renew.unref();
      // No answer at all (the socket closed before one was sent): the key is freed.
      reply.raw.once('close', () => void settle(request, reply, undefined));
    });

    app.addHook('onSend', async (request, reply, payload) => {
      await settle(request, reply, payload);
      return payload;
    });

    async function settle(request: FastifyRequest, reply: FastifyReply, payload: unknown): Promise<void> {
      const state = held.get(request);
      if (state === undefined || state.settled) return;
      state.settled = true;
      clearInterval(state.renew);
      const status = reply.statusCode;
      try {
        if (state.storedInTransaction === status) return store.forget(state.ref);
        const body = typeof payload === 'string' ? payload : Buffer.isBuffer(payload) ? payload.toString('utf8') : undefined;
        const bodyDigest = state.body.value;
        if (body === undefined || bodyDigest === undefined || !keepable(status)) return await store.release(state.ref);
        const contentType = String(reply.getHeader('content-type') ?? 'application/json; charset=utf-8');
        await store.complete(state.ref, { bodyDigest, status, contentType, body }, options.ttlMs);
      } catch (error) {
        // The answer still goes out; a retry may then execute again (logged, so it can be told).
        request.log.warn({ err: error, status }, 'idempotency key: its answer could not be stored');
        await store.release(state.ref).catch(() => undefined);
      }
    }
  },
  { name: 'idempotency', dependencies: ['auth', 'error-handler'] },
);

const reused = (): AppError =>
  new AppError('IDEMPOTENCY_KEY_REUSED', 'This Idempotency-Key was used with a different request (method, path, query or body)');

/** Final answers of requests that executed (2xx) or did nothing (4xx), but not waits or cuts. */
const keepable = (status: number): boolean =>
  (status >= 200 && status < 300) || (status >= 400 && status < 500 && ![408, 429, 499].includes(status));

/** A repeat's body, read to its end and discarded: its digest, as the first request's was taken. */
async function repeatDigest(request: FastifyRequest, maxBytes: number): Promise<string | undefined> {
  if (isMultipart(request)) {
    const file = await request.file({ limits: { fileSize: maxBytes, files: 1 } }).catch(() => undefined);
    if (file === undefined) return undefined;
    const digest = await drainDigest(file.file, maxBytes).catch(() => undefined);
    return file.file.truncated ? undefined : digest;
  }
  const body = request.body as Readable | undefined;
  return body !== undefined && body !== null && typeof (body as Readable).pipe === 'function'
    ? drainDigest(body as AsyncIterable<Buffer>, maxBytes).catch(() => undefined)
    : undefined;
}

/**
 * Hashes the file part as the route reads it: `request.file()` hands out the part with its stream
 * behind a hashing pass-through (errors and the size limit's `truncated` carried over).
 */
function tapMultipart(request: FastifyRequest, body: BodyDigest): void {
  const file = request.file.bind(request);
  request.file = async (...args: Parameters<FastifyRequest['file']>): Promise<MultipartFile | undefined> => {
    const part = await file(...args);
    if (part === undefined) return part;
    const source = part.file;
    const tap = hashing((digest) => {
      if (source.truncated !== true) body.value = digest;
    });
    Object.defineProperty(tap, 'truncated', { get: () => source.truncated });
    pipeline(source, tap, () => undefined);
    part.file = tap as unknown as typeof part.file;
    return part;
  };
}
