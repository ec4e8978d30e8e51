import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { insertBatch } from '../ingest/batch.js';
import { TableParamSchema, errorResponses, rowSchema } from '../schemas.js';
import { TABLE_NAMES, TABLES } from '../tables.js';
import { clientSignal } from './idle-timeout.js';
import { tableOr404 } from './upload.js';

export default async function batchRoutes(fastify: FastifyInstance): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const maxRows = app.config.BATCH_MAX_ROWS;
  app.post(
    '/batch/:table',
    {
      // Idempotency-Key honoured (plugins/idempotency.ts).
      config: { idempotent: true },
      // The handler checks every row itself, uncoerced (Fastify's Ajv would turn "4" into 4), so it
      // can answer with each problem's index and field and log the rejected rows; the schema
      // below documents the body.
      validatorCompiler: () => () => true,
      bodyLimit: app.config.JSON_BODY_MAX_BYTES,
      schema: {
        tags: ['ingest'],
        summary: `Insert 1 to ${maxRows} complete rows, all or nothing`,
        params: TableParamSchema,
        body: Type.Array(Type.Union(TABLE_NAMES.map((name) => rowSchema(TABLES[name]))), { minItems: 1, maxItems: maxRows }),
        response: {
          201: Type.Object({ table: Type.String(), inserted: Type.Integer() }),
          ...errorResponses(400, 401, 404, 409, 413, 415, 429, 503),
        },
      },
    },
    async (request, reply) => {
      const table = tableOr404(request.params.table);
      // A client gone before its turn: not executed; gone before the commit: rolled back.
      // With an Idempotency-Key, its answer is stored in the batch's own transaction.
      const idempotency = request.idempotentCommit((inserted) => ({ status: 201, body: { table: table.name, inserted } }));
      const result = await insertBatch(app.store, table, request.body, maxRows, { signal: clientSignal(request, reply), idempotency });
      return reply.code(201).send(result);
    },
  );
}
