import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { AppError } from '../errors.js';

declare module 'fastify' {
  interface FastifyInstance {
    /**
     * Stops accepting requests, lets those in flight finish for `graceMs` (SHUTDOWN_GRACE_MS by
     * default), then closes their connections so unfinished uploads roll back, waits for their
     * handlers to clean up, and closes the store.
     */
    closeGracefully(graceMs?: number): Promise<void>;
  }
}

/** How long closing waits, after the connections are closed, for handlers to roll back. */
const CLEANUP_MS = 5000;

/**
 * Graceful shutdown. Fastify's own `close()` stops listening and waits for open connections;
 * this adds the deadline, answers requests that still arrive on kept-alive connections with a
 * 503 in the one error shape, and makes the store wait for handlers whose client was cut off
 * (their rollback and upload log must run before the database closes).
 */
export default fp(
  async function shutdown(app: FastifyInstance, options: { graceMs: number }) {
    const inFlight = new Set<FastifyRequest>();
    let closing = false;
    let drained: (() => void) | undefined;

    const done = (request: FastifyRequest): void => {
      if (inFlight.delete(request) && inFlight.size === 0) drained?.();
    };

    app.addHook('onRequest', async (request, reply) => {
      if (closing) {
        void reply.header('connection', 'close');
        throw new AppError('SHUTTING_DOWN', undefined, undefined, 1);
      }
      inFlight.add(request);
    });
    // onSend runs once the handler has its answer, even when the client is already gone
    // (onResponse does not run then): past it, the request no longer touches the store.
    app.addHook('onSend', async (request, reply, payload) => {
      done(request);
      if (closing) void reply.header('connection', 'close');
      return payload;
    });
    app.addHook('onResponse', async (request) => done(request));

    app.addHook('preClose', async () => {
      closing = true;
    });
    // onClose hooks run in reverse order of registration: this one before the store's close.
    app.addHook('onClose', async () => {
      if (inFlight.size === 0) return;
      app.log.info({ in_flight: inFlight.size }, 'waiting for in-flight requests to clean up');
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        new Promise<void>((resolve) => (drained = resolve)),
        // A handler that never answers must not keep the process up: the store closes anyway.
        new Promise<void>((resolve) => (timer = setTimeout(resolve, CLEANUP_MS))),
      ]);
      clearTimeout(timer);
    });

    app.decorate('closeGracefully', async (graceMs: number = options.graceMs) => {
      closing = true;
      const deadline = setTimeout(() => {
        if (inFlight.size > 0) app.log.warn({ in_flight: inFlight.size }, 'grace period over: closing the connections left');
        app.server.closeAllConnections();
      }, graceMs);
      try {
        await app.close();
      } finally {
        clearTimeout(deadline);
      }
    });
  },
  { name: 'shutdown' },
);
