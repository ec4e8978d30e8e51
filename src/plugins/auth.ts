import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { AppError } from '../errors.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** Whether a route answers without a key (the allow-list below), for the OpenAPI document. */
    isOpenRoute: (method: string, url: string) => boolean;
    /** Every route declared after this plugin, as `METHOD url` (what the access test walks). */
    declaredRoutes: { method: string; url: string }[];
  }
  interface FastifyRequest {
    /**
     * Who is calling: a short hash of the API key the request carried (never the key), or `anon`
     * when no keys are configured or an open route was called without one.
     */
    caller: string;
  }
}

export interface AuthOptions {
  keys: string[];
  /** The reports and /tables stay open with keys set (PUBLIC_REPORTS). */
  publicReports: boolean;
}

interface OpenRoute {
  /** A route's URL as declared (`/metrics/:name`), or a prefix when it ends with `*`. */
  url: string;
  why: string;
  /** Open only while PUBLIC_REPORTS is true. */
  report?: true;
}

/**
 * The reviewed allow-list: with API_KEY set, these routes (GET and HEAD only) answer without a
 * key, and every other route, including routes added later, needs one. Nothing here reveals a
 * person's data: the reports are aggregates, /tables counts rows.
 */
export const OPEN_ROUTES: readonly OpenRoute[] = [
  { url: '/health', why: 'orchestrators probe it without credentials' },
  { url: '/openapi.json', why: 'the API description' },
  { url: '/docs', why: 'Swagger UI' },
  { url: '/docs/*', why: "Swagger UI's assets and its copy of the API description" },
  { url: '/', why: "the dashboard's page" },
  { url: '/web/*', why: "the dashboard's script, styles and source maps" },
  { url: '/metrics/*', why: 'aggregate reports (hires per department, job, quarter)', report: true },
  { url: '/tables', why: 'row counts', report: true },
];

const READ_METHODS = new Set(['GET', 'HEAD']);

/** Whether `method url` (a route's declared URL) is on the allow-list. */
export function isOpen(method: string, url: string | undefined, publicReports: boolean): boolean {
  // A CORS preflight carries no credentials by design, and answers nothing but CORS headers.
  if (method === 'OPTIONS') return true;
  if (url === undefined || !READ_METHODS.has(method)) return false;
  return OPEN_ROUTES.some(
    (route) =>
      (route.report !== true || publicReports) && (route.url.endsWith('*') ? url.startsWith(route.url.slice(0, -1)) : url === route.url),
  );
}

/**
 * Fastify's request log fields, with upload ids masked in the URL (`/uploads/{id}/rejects.csv`):
 * the info log never says where a person's rejected lines are.
 */
export function serializeRequest(request: FastifyRequest): Record<string, unknown> {
  return {
    method: request.method,
    url: request.url.replace(/^\/uploads\/[^/?#]+/, '/uploads/{id}'),
    host: request.host,
    remoteAddress: request.ip,
    remotePort: request.socket?.remotePort,
  };
}

// Hashing first gives equal-length buffers, so the comparison's time says nothing about the key.
const digest = (text: string): Buffer => createHash('sha256').update(text).digest();

/**
 * Default-deny access: with keys configured, every request needs `Authorization: Bearer <key>`
 * before its body is read, unless its route is on OPEN_ROUTES; an unknown URL needs it too (a 401,
 * so a caller without a key learns nothing of which routes exist).
 */
export default fp(
  async function auth(app: FastifyInstance, options: AuthOptions) {
    const keys = options.keys.map(digest);
    const check = (request: FastifyRequest): void => {
      const header = request.headers.authorization;
      const match = typeof header === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
      if (match === null) throw new AppError('UNAUTHORIZED');
      const offered = digest(match[1]!);
      // Compare against every key, always, so timing does not tell which one nearly matched.
      let ok = false;
      for (const key of keys) ok = timingSafeEqual(key, offered) || ok;
      if (!ok) throw new AppError('UNAUTHORIZED', 'The API key is not valid');
      // A hash of the key, so a rotated-in key is another caller and the key itself is never stored.
      request.caller = `key:${offered.toString('hex').slice(0, 32)}`;
    };

    app.decorateRequest('caller', 'anon');
    app.decorate('isOpenRoute', (method: string, url: string) => isOpen(method, url, options.publicReports));
    const declared: { method: string; url: string }[] = [];
    app.decorate('declaredRoutes', declared);
    app.addHook('onRoute', (route) => {
      for (const method of Array.isArray(route.method) ? route.method : [route.method]) declared.push({ method, url: route.url });
    });
    app.addHook('onRequest', async (request) => {
      if (keys.length === 0 || isOpen(request.method, request.routeOptions.url, options.publicReports)) return;
      check(request);
    });
  },
  { name: 'auth' },
);
