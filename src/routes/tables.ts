import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type, type Static } from 'typebox';
import { errorResponses } from '../schemas.js';
import { clientSignal } from './idle-timeout.js';

const HealthSchema = Type.Object({ status: Type.Literal('ok'), database: Type.String() });

export default async function tableRoutes(fastify: FastifyInstance): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  app.get(
    '/tables',
    {
      schema: {
        tags: ['tables'],
        summary: 'Row count of every table',
        response: {
          200: Type.Object({ tables: Type.Array(Type.Object({ name: Type.String(), rows: Type.Integer() })) }),
          ...errorResponses(503),
        },
      },
    },
    async () => ({ tables: await app.store.countRows() }),
  );
  app.post(
    '/reset-db',
    {
      // Idempotency-Key honoured (plugins/idempotency.ts).
      config: { idempotent: true },
      schema: {
        tags: ['tables'],
        summary: 'Empty the three tables (the upload log is kept)',
        response: { 200: Type.Object({ reset: Type.Boolean(), tables: Type.Array(Type.String()) }), ...errorResponses(401, 429, 503) },
      },
    },
    async (request, reply) => {
      // A client gone while the reset waits for its write turn: the reset never runs.
      await app.store.reset({ signal: clientSignal(request, reply) });
      return { reset: true, tables: (await app.store.countRows()).map((t) => t.name) };
    },
  );
  app.get(
    '/health',
    {
      schema: {
        tags: ['service'],
        summary: '200 when the database answers',
        response: { 200: HealthSchema, ...errorResponses(503) },
      },
    },
    // An async handler's object literal is not typed by the schema: its return type says it.
    async (): Promise<Static<typeof HealthSchema>> => {
      await app.store.ping();
      return { status: 'ok', database: app.store.dialect };
    },
  );
}
