import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';
import { AppError } from '../errors.js';

/**
 * Where scripts/build-web.mjs puts the dashboard. The same path from src/routes (tests, tsx) and
 * from dist/routes (npm start): both are two levels below the project root.
 */
export const WEB_ROOT = fileURLToPath(new URL('../../dist/web/', import.meta.url));

export interface DashboardOptions {
  /** The built dashboard's folder (default WEB_ROOT). */
  root?: string;
}

/** GET / (the dashboard page) and GET /web/* (its script, styles, source maps); kept out of the API docs. */
export default async function dashboardRoutes(app: FastifyInstance, options: DashboardOptions = {}): Promise<void> {
  const root = options.root ?? WEB_ROOT;
  const index = join(root, 'index.html');

  await app.register(fastifyStatic, {
    root,
    prefix: '/web/',
    index: false,
    // Assets are not content-hashed: let the browser revalidate them (ETag) on every load.
    cacheControl: true,
    maxAge: 0,
    schemaHide: true,
    // scripts/build-web.mjs writes .br and .gz next to app.js and app.css.
    preCompressed: true,
  });

  app.get('/', { schema: { hide: true } }, async (_request, reply) => {
    // Checked per request: `npm run build` may run while the server is up.
    if (!existsSync(index)) throw new AppError('NOT_FOUND', 'The dashboard is not built: run `npm run build`');
    return reply.header('cache-control', 'no-cache').sendFile('index.html', { cacheControl: false });
  });
}
