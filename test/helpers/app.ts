import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/app.js';
import { loadConfig, type Config } from '../../src/config.js';
import type { Backend, TestDatabase } from './backends.js';

export interface TestApp {
  app: FastifyInstance;
  db: TestDatabase;
  close(): Promise<void>;
}

/** Builds the production app (same options as the server) on a fresh database of a backend. */
export async function startApp(backend: Backend, overrides: Partial<Config> = {}): Promise<TestApp> {
  const db = await backend.create();
  const config = loadConfig({}, { LOG_LEVEL: 'silent', ...overrides, DATABASE_URL: db.url });
  const app = await buildApp(config);
  return {
    app,
    db,
    close: async () => {
      await app.close();
      await db.drop();
    },
  };
}

/** Listens on a random loopback port, for tests that need a real socket. Returns the base URL. */
export async function listen(app: FastifyInstance): Promise<string> {
  return app.listen({ port: 0, host: '127.0.0.1' });
}
