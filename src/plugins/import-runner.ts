import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { ImportRunner } from '../imports/runner.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** This instance's runner of import jobs (POST /imports wakes it; DELETE stops its own jobs). */
    imports: ImportRunner;
  }
}

/**
 * Starts the import runner once the app is ready and stops it when the app closes: its running
 * jobs roll back and go back to the queue before the store closes (onClose hooks run in reverse
 * order of registration, and this one is registered after the store's).
 */
export default fp(
  async function importRunner(app: FastifyInstance) {
    const runner = new ImportRunner(app.store, app.config, app.log);
    app.decorate('imports', runner);
    app.addHook('onReady', async () => runner.start());
    app.addHook('preClose', async () => runner.stop());
  },
  { name: 'import-runner' },
);
