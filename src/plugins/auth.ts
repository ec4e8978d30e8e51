import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { AppError } from '../errors.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** preHandler for writes: requires `Authorization: Bearer <key>` when keys are configured. */
    requireKey: (request: FastifyRequest) => Promise<void>;
  }
}

// Hashing first gives equal-length buffers, so the comparison's time says nothing about the key.
const digest = (text: string): Buffer => createHash('sha256').update(text).digest();

export default fp(
  async function auth(app: FastifyInstance, options: { keys: string[] }) {
    const keys = options.keys.map(digest);
    app.decorate('requireKey', async (request: FastifyRequest) => {
      if (keys.length === 0) return;
      const header = request.headers.authorization;
      const match = typeof header === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
      if (match === null) throw new AppError('UNAUTHORIZED');
      const offered = digest(match[1]!);
      // Compare against every key, always, so timing does not tell which one nearly matched.
      let ok = false;
      for (const key of keys) ok = timingSafeEqual(key, offered) || ok;
      if (!ok) throw new AppError('UNAUTHORIZED', 'The API key is not valid');
    });
  },
  { name: 'auth' },
);
