import { Readable } from 'node:stream';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { AppError } from '../errors.js';
import { CsvRecordReader } from '../ingest/csv-records.js';
import { csvCell, csvLine } from '../reports/csv-output.js';
import { errorResponses, IdParamSchema, isServiceId } from '../schemas.js';
import { cutWhenStalled } from './idle-timeout.js';
import type { Rejection } from '../store/store.js';
import { UploadReportSchema } from '../upload-record.js';

export default async function uploadsRoutes(fastify: FastifyInstance): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const find = async (id: string) => {
    const record = isServiceId(id) ? await app.store.getUpload(id) : undefined;
    if (record === undefined) throw new AppError('UPLOAD_NOT_FOUND', `No upload ${id}`);
    return record;
  };

  app.get(
    '/uploads/:id',
    {
      schema: {
        tags: ['ingest'],
        summary: "An upload's logged report, with its first 100 rejected rows",
        params: IdParamSchema,
        response: {
          200: UploadReportSchema,
          ...errorResponses(404),
        },
      },
    },
    async (request) => {
      const record = await find(request.params.id);
      const errors: { line: number; reason: string }[] = [];
      for await (const r of app.store.rejects(record.upload_id)) {
        errors.push({ line: r.line, reason: r.reason });
        if (errors.length === 100) break;
      }
      return { ...record, errors };
    },
  );

  app.get(
    '/uploads/:id/rejects.csv',
    {
      schema: {
        tags: ['ingest'],
        summary: 'The rejected lines, as sent: fix them and upload the file again',
        description: 'With `annotate=true`, a CSV with a header `line,reason,raw` instead.',
        params: IdParamSchema,
        querystring: Type.Object({
          annotate: Type.Boolean({ default: false }),
          spreadsheet_safe: Type.Boolean({
            default: false,
            description: "Prefix cells starting with = + - @ with ' (without annotate: each line's fields, re-quoted)",
          }),
        }),
        produces: ['text/csv'],
        response: errorResponses(404),
      },
    },
    async (request, reply) => {
      const record = await find(request.params.id);
      const { annotate, spreadsheet_safe } = request.query;
      const rejects = app.store.rejects(record.upload_id);
      async function* lines(): AsyncIterable<string> {
        if (annotate) yield csvLine(['line', 'reason', 'raw']);
        for await (const r of rejects as AsyncIterable<Rejection>) {
          if (annotate) yield csvLine([r.line, r.reason, r.raw], { spreadsheetSafe: spreadsheet_safe });
          else yield spreadsheet_safe ? safeRawLine(r.raw) : `${r.raw}\r\n`;
        }
      }
      cutWhenStalled(request, reply, app.config.DOWNLOAD_IDLE_TIMEOUT_MS);
      return reply
        .type('text/csv; charset=utf-8')
        .header('content-disposition', `attachment; filename="${record.table}-rejects-${record.upload_id}.csv"`)
        .send(Readable.from(lines()));
    },
  );
}

/**
 * A rejected line as sent, with its fields neutralized for spreadsheets: split as CSV and written
 * again with formula-like cells prefixed; a line that is not valid CSV becomes one cell.
 */
function safeRawLine(raw: string): string {
  try {
    const reader = new CsvRecordReader(Number.MAX_SAFE_INTEGER);
    const records = [...reader.push(raw), ...reader.end()];
    if (records.length === 1) return csvLine(records[0]!.fields, { spreadsheetSafe: true });
  } catch {
    // Not valid CSV on its own (an unterminated quote): fall through.
  }
  return `${csvCell(raw, { spreadsheetSafe: true })}\r\n`;
}
