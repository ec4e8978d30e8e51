import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { AppError } from '../errors.js';
import { ingestCsv } from '../ingest/upload.js';
import { TableParamSchema, errorResponses } from '../schemas.js';
import { TABLE_ALIASES, TABLE_NAMES, resolveTable, type TableDef } from '../tables.js';
import { UploadReportSchema } from '../upload-record.js';
import { clientSignal } from './idle-timeout.js';
import { importFolderFile, isBodyless, uploadSource } from './upload-source.js';

export const UploadQuerySchema = Type.Object({
  batch_size: Type.Integer({ minimum: 1, maximum: 100_000, default: 1000, description: 'Rows per insert chunk' }),
  strict: Type.Boolean({ default: false, description: 'Also reject incomplete rows and rows whose department_id/job_id is not stored' }),
  dry_run: Type.Boolean({ default: false, description: 'Validate and report without writing' }),
  on_conflict: Type.Union([Type.Literal('reject'), Type.Literal('update')], {
    default: 'reject',
    description: '`reject`: a duplicate id is a rejected row; `update`: it replaces the stored row (upsert)',
  }),
});

export function tableOr404(name: string): TableDef {
  const table = resolveTable(name);
  if (table === undefined) {
    const aliases = Object.entries(TABLE_ALIASES).map(([alias, canonical]) => `${alias} for ${canonical}`);
    throw new AppError('TABLE_NOT_FOUND', `Unknown table "${name}": use ${TABLE_NAMES.join(', ')} (or ${aliases.join(', ')})`);
  }
  return table;
}

export default async function uploadRoutes(fastify: FastifyInstance): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  app.post(
    '/upload/:table',
    {
      // Idempotency-Key honoured (plugins/idempotency.ts).
      config: { idempotent: true },
      schema: {
        tags: ['ingest'],
        summary: 'Stream a header-less CSV file into a table, in one transaction',
        description:
          'The file is the multipart field `file` or a `text/csv` body. With no body at all, a server with IMPORT_DIR loads `IMPORT_DIR/<table>.csv` (as the original service did).',
        consumes: ['multipart/form-data', 'text/csv'],
        params: TableParamSchema,
        querystring: UploadQuerySchema,
        response: { 200: UploadReportSchema, ...errorResponses(400, 401, 404, 408, 413, 415, 429, 503) },
      },
    },
    async (request, reply) => {
      const { query } = request;
      const table = tableOr404(request.params.table);
      const source = isBodyless(request)
        ? await importFolderFile(app.config, table)
        : await uploadSource(request, app.config.UPLOAD_MAX_BYTES, app.config.UPLOAD_IDLE_TIMEOUT_MS);
      const report = await ingestCsv(app.store, source, {
        table,
        batchSize: query.batch_size,
        strict: query.strict,
        dryRun: query.dry_run,
        onConflict: query.on_conflict,
        maxBytes: app.config.UPLOAD_MAX_BYTES,
        maxRecordChars: app.config.CSV_MAX_RECORD_BYTES,
        maxFields: app.config.CSV_MAX_FIELDS,
        // A client gone while the upload waits for its write turn: it never starts.
        signal: clientSignal(request, reply),
      });
      request.log.info(
        { upload_id: report.upload_id, table: report.table, received: report.received, rejected: report.rejected },
        'upload done',
      );
      return report;
    },
  );
}
