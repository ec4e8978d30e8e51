import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { Turns } from '../store/write-turns.js';

/**
 * JSON bodies (a batch's is up to JSON_BODY_MAX_BYTES, ≈3 MB of heap once read and parsed) in
 * the server at once. More wait, their bodies unread, in arrival order.
 */
export const JSON_BODIES_AT_ONCE = 8;
/** Streamed downloads (backups, rejects.csv) at once: each holds a page of rows while its client reads. */
export const DOWNLOADS_AT_ONCE = 8;

const DOWNLOADS = new Set(['/backup/:table', '/uploads/:id/rejects.csv']);
const hasBody = (request: FastifyRequest): boolean =>
  request.headers['transfer-encoding'] !== undefined || Number(request.headers['content-length'] ?? 0) > 0;
const isJson = (request: FastifyRequest): boolean => /^application\/([\w.+-]*\+)?json\b/i.test(request.headers['content-type'] ?? '');

/**
 * Bounds what requests hold in the V8 heap at once, so that the heap ceiling of src/node-flags.ts
 * cannot run out under any number of clients (README, "The heap"): a JSON body or a download
 * takes a turn before anything of it is read, and gives it back when its answer is over (sent,
 * failed or cut). A request that cannot get one within WRITE_QUEUE_TIMEOUT_MS answers 503 BUSY
 * with Retry-After, having done nothing; one whose client leaves while it waits is forgotten.
 * Uploads and restores are bounded where they wait for the database (a PostgreSQL load slot,
 * SQLite's one writer) and read their bodies piece by piece; reports are kept as bytes, off the heap.
 */
export default fp(
  async function memoryGates(app: FastifyInstance, options: { waitMs: number }) {
    const bodies = new Turns(JSON_BODIES_AT_ONCE);
    const downloads = new Turns(DOWNLOADS_AT_ONCE);
    const releases = new WeakMap<FastifyRequest, () => void>();

    const gateOf = (request: FastifyRequest): { turns: Turns; what: string } | undefined => {
      if (request.method === 'GET') {
        return DOWNLOADS.has(request.routeOptions.url ?? '') ? { turns: downloads, what: 'a download slot' } : undefined;
      }
      return request.method !== 'HEAD' && request.method !== 'OPTIONS' && hasBody(request) && isJson(request)
        ? { turns: bodies, what: 'a request body slot' }
        : undefined;
    };
    const release = (request: FastifyRequest): void => {
      releases.get(request)?.();
      releases.delete(request);
    };

    app.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
      const gate = gateOf(request);
      if (gate === undefined) return;
      const gone = new AbortController();
      const onClose = (): void => gone.abort();
      reply.raw.once('close', onClose);
      const free = await gate.turns.acquire({ timeoutMs: options.waitMs, signal: gone.signal, what: gate.what });
      reply.raw.off('close', onClose);
      releases.set(request, free);
      // Whichever comes first: the answer sent, or the connection gone under it.
      reply.raw.once('close', () => release(request));
    });
    app.addHook('onResponse', async (request) => release(request));
    app.addHook('onRequestAbort', async (request) => release(request));
  },
  { name: 'memory-gates' },
);
