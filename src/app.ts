import multipart from '@fastify/multipart';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyInstance } from 'fastify';
import { apiKeys, corsOrigins, trustProxy, type Config } from './config.js';
import auth, { serializeRequest } from './plugins/auth.js';
import errorHandler from './plugins/error-handler.js';
import idempotency from './plugins/idempotency.js';
import { uploadOrigins } from './imports/upload-url.js';
import importRunner from './plugins/import-runner.js';
import memoryGates from './plugins/memory-gates.js';
import security from './plugins/security.js';
import shutdown from './plugins/shutdown.js';
import backupRoutes from './routes/backup.js';
import batchRoutes from './routes/batch.js';
import dashboardRoutes from './routes/dashboard.js';
import importRoutes from './routes/imports.js';
import metricsRoutes from './routes/metrics.js';
import tableRoutes from './routes/tables.js';
import uploadRoutes from './routes/upload.js';
import uploadsRoutes from './routes/uploads.js';
import { openStore } from './store/open-store.js';
import type { Store } from './store/store.js';

declare module 'fastify' {
  interface FastifyInstance {
    config: Config;
    store: Store;
  }
}

export interface BuildOptions {
  /** Use this store instead of opening DATABASE_URL (tests share one across apps). */
  store?: Store;
}

/** Builds the whole service; the server and the tests build the very same app. */
export async function buildApp(config: Config, options: BuildOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    logger: {
      level: config.LOG_LEVEL,
      redact: { paths: ['req.headers.authorization'], censor: '[redacted]' },
      // An upload's id names its rejected lines (people's names): request lines log the route instead.
      serializers: { req: serializeRequest },
    },
    bodyLimit: config.JSON_BODY_MAX_BYTES,
    // A client's x-request-id is kept when it is a plain token; anything else gets a fresh id.
    requestIdHeader: false,
    genReqId: (request) => clientRequestId(request.headers['x-request-id']) ?? crypto.randomUUID(),
    trustProxy: trustProxy(config),
    // Slow-loris: headers and whole requests have deadlines (Node answers 408 and closes).
    requestTimeout: config.REQUEST_TIMEOUT_MS,
    http: {
      headersTimeout: Math.min(config.HEADERS_TIMEOUT_MS, config.REQUEST_TIMEOUT_MS),
      connectionsCheckingInterval: Math.min(30_000, Math.ceil(Math.min(config.HEADERS_TIMEOUT_MS, config.REQUEST_TIMEOUT_MS) / 4)),
    },
    // The shutdown plugin answers requests that arrive while closing, in the one error shape.
    return503OnClosing: false,
    ajv: { customOptions: { coerceTypes: true, useDefaults: true, removeAdditional: false } },
  });
  app.addHook('onSend', async (request, reply) => {
    void reply.header('x-request-id', request.id);
  });

  const store = options.store ?? (await openStore(config));
  if (options.store === undefined) app.addHook('onClose', () => store.close());
  await store.migrate();
  app.decorate('config', config);
  app.decorate('store', store);

  await app.register(errorHandler);
  await app.register(importRunner);
  await app.register(shutdown, { graceMs: config.SHUTDOWN_GRACE_MS });
  await app.register(security, {
    corsOrigins: corsOrigins(config),
    writesPerMinute: config.RATE_LIMIT_WRITES_PER_MINUTE,
    uploadOrigins: uploadOrigins(config),
  });
  await app.register(auth, { keys: apiKeys(config), publicReports: config.PUBLIC_REPORTS });
  await app.register(memoryGates, { waitMs: config.WRITE_QUEUE_TIMEOUT_MS });
  await app.register(multipart, { limits: { fileSize: config.UPLOAD_MAX_BYTES, files: 1, fields: 10, parts: 20 } });
  await app.register(idempotency, { ttlMs: config.IDEMPOTENCY_TTL_HOURS * 3_600_000, maxBodyBytes: config.UPLOAD_MAX_BYTES });
  // Only JSON, CSV and multipart bodies are taken; anything else is a 415.
  app.removeContentTypeParser('text/plain');
  // The CSV body stays a stream: the upload route reads it chunk by chunk.
  app.addContentTypeParser(['text/csv', 'application/csv'], (_request, payload, done) => done(null, payload));

  await app.register(swagger, {
    openapi: {
      info: {
        title: 'HR data migration API',
        version: '1.0.0',
        description: 'Stream hiring history from CSV files into SQL, add rows in batches, read hiring reports.',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
    // The allow-list of the auth plugin, so /docs shows a padlock exactly where a key is needed.
    transform: ({ schema, url, route }) => {
      const methods = Array.isArray(route.method) ? route.method : [route.method];
      return { schema: methods.every((m) => app.isOpenRoute(m, url)) ? { ...schema, security: [] } : schema, url };
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  await app.register(uploadRoutes);
  await app.register(uploadsRoutes);
  await app.register(importRoutes);
  await app.register(batchRoutes);
  await app.register(metricsRoutes);
  await app.register(tableRoutes);
  await app.register(backupRoutes);
  await app.register(dashboardRoutes);
  return app;
}

const REQUEST_ID = /^[\w.:-]{1,128}$/;

/** The client's own request id, when it is safe to echo and log. */
const clientRequestId = (header: string | string[] | undefined): string | undefined =>
  typeof header === 'string' && REQUEST_ID.test(header) ? header : undefined;
