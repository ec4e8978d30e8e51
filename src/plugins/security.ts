import cors from '@fastify/cors';
import helmet from '@fastify/helmet';
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { AppError } from '../errors.js';

export interface SecurityOptions {
  /** Browser origins allowed by CORS; empty: CORS closed (no cross-origin browser access). */
  corsOrigins: string[];
  /** Writes per client address and minute. */
  writesPerMinute: number;
  /** Where the dashboard may PUT files besides the service itself: the import bucket's origins. */
  uploadOrigins?: string[];
}

const READS = new Set(['GET', 'HEAD', 'OPTIONS']);
const isRead = (request: FastifyRequest): boolean => READS.has(request.method);

/**
 * Security headers on every answer (helmet), CORS closed unless origins are listed, and a rate
 * limit on writes only (reads stay cheap and open). Register before the routes: the rate limit
 * attaches itself to routes as they are declared.
 */
export default fp(
  async function security(app: FastifyInstance, options: SecurityOptions) {
    await app.register(helmet, {
      contentSecurityPolicy: {
        // The service is often reached over plain HTTP (loopback, behind a TLS proxy): upgrading
        // the dashboard's and Swagger UI's own requests to https would break them.
        directives: { upgradeInsecureRequests: null, connectSrc: ["'self'", ...(options.uploadOrigins ?? [])] },
      },
    });

    await app.register(cors, {
      // false: no Access-Control-* header at all, so browsers keep other origins out.
      origin: options.corsOrigins.length === 0 ? false : options.corsOrigins.includes('*') ? '*' : options.corsOrigins,
      methods: ['GET', 'HEAD', 'POST', 'DELETE'],
      allowedHeaders: ['authorization', 'content-type', 'x-request-id', 'idempotency-key'],
      exposedHeaders: ['x-request-id', 'retry-after', 'content-disposition', 'idempotent-replayed'],
      maxAge: 600,
    });

    await app.register(rateLimit, {
      global: true,
      max: options.writesPerMinute,
      timeWindow: 60_000,
      allowList: isRead,
      // Thrown, so the central error handler answers it in the one error shape.
      errorResponseBuilder: (_request, context) => {
        const seconds = Math.max(1, Math.ceil(context.ttl / 1000));
        return new AppError(
          'TOO_MANY_REQUESTS',
          `At most ${context.max} writes per minute from one client; retry in ${seconds} s`,
          { limit: context.max, retry_after_seconds: seconds },
          seconds,
        );
      },
    });
  },
  { name: 'security', dependencies: ['error-handler'] },
);
