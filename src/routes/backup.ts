import type { Readable } from 'node:stream';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { backupName, listBackups, openBackup, writeBackup } from '../backup/backup-dir.js';
import { encodeAvroPages } from '../backup/encode.js';
import { restoreTable } from '../backup/restore.js';
import { AppError } from '../errors.js';
import { TableParamSchema, errorResponses } from '../schemas.js';
import { TABLE_NAMES, TABLES } from '../tables.js';
import { tableOr404 } from './upload.js';
import { clientSignal, cutWhenStalled, readBody } from './idle-timeout.js';
import { uploadSource } from './upload-source.js';

/** Avro's own media type (its HTTP transport uses it), and the generic ones clients send. */
export const AVRO_TYPES = ['avro/binary', 'application/avro', 'application/octet-stream'];

const isAvroContentType = (type: string | undefined): boolean =>
  type !== undefined && AVRO_TYPES.includes(type.split(';')[0]!.trim().toLowerCase());

const BackupFileSchema = Type.Object({
  name: Type.String({ description: 'File name in BACKUP_DIR, for `POST /restore/{table}?from=`' }),
  table: Type.String(),
  rows: Type.Integer(),
  bytes: Type.Integer(),
  created_at: Type.String({ description: 'UTC instant the backup was taken' }),
});

const RestoreQuerySchema = Type.Object({
  mode: Type.Union([Type.Literal('replace'), Type.Literal('merge')], {
    default: 'replace',
    description: "`replace`: the table's content becomes exactly the file's; `merge`: upsert the file's rows by id",
  }),
  from: Type.Optional(
    Type.String({ minLength: 1, maxLength: 255, description: 'Restore this backup of BACKUP_DIR (see GET /backups) instead of a body' }),
  ),
});

export default async function backupRoutes(fastify: FastifyInstance): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  // An Avro body stays a stream (as a CSV one does): restore reads it block by block.
  for (const type of AVRO_TYPES) {
    if (!app.hasContentTypeParser(type)) app.addContentTypeParser(type, (_request, payload, done) => done(null, payload));
  }

  // A backup holds every row of a table (every employee's name): unlike the aggregate reports,
  // downloading or listing them needs the key too.
  app.get(
    '/backup/:table',
    {
      schema: {
        tags: ['backup'],
        summary: 'Download a table as an Avro object container file (deflate), streamed',
        produces: ['avro/binary'],
        params: TableParamSchema,
        // The body is a stream; the schema only documents it (Fastify serializes no stream).
        response: {
          200: Type.Unsafe<Readable>(Type.String({ format: 'binary', description: 'The Avro file' })),
          ...errorResponses(401, 404, 503),
        },
      },
    },
    async (request, reply) => {
      const table = tableOr404(request.params.table);
      const pages = app.store.exportAvro(table);
      cutWhenStalled(request, reply, app.config.DOWNLOAD_IDLE_TIMEOUT_MS);
      return reply
        .type('avro/binary')
        .header('content-disposition', `attachment; filename="${backupName(table, new Date())}"`)
        .send(encodeAvroPages(table, pages));
    },
  );

  app.post(
    '/backup',
    {
      schema: {
        tags: ['backup'],
        summary: 'Write a backup of every table (or of `table`) into BACKUP_DIR',
        querystring: Type.Object({ table: Type.Optional(Type.String({ description: 'Only this table' })) }),
        response: { 200: Type.Object({ files: Type.Array(BackupFileSchema) }), ...errorResponses(401, 404, 429, 503) },
      },
    },
    async (request) => {
      const only = request.query.table;
      const tables = only === undefined ? TABLE_NAMES.map((name) => TABLES[name]) : [tableOr404(only)];
      const files = [];
      for (const table of tables) files.push(await writeBackup(app.store, table, app.config.BACKUP_DIR));
      request.log.info({ files: files.map((f) => ({ name: f.name, rows: f.rows })) }, 'backup written');
      return { files };
    },
  );

  app.get(
    '/backups',
    {
      schema: {
        tags: ['backup'],
        summary: 'The backups in BACKUP_DIR, newest first',
        response: {
          200: Type.Object({
            backups: Type.Array(
              Type.Object({
                name: Type.String(),
                table: Type.Union([Type.String(), Type.Null()]),
                rows: Type.Union([Type.Integer(), Type.Null()], { description: 'Null when the file is not an Avro container' }),
                bytes: Type.Integer(),
                created_at: Type.String(),
                complete: Type.Boolean({ description: 'False when the file ends inside a block: it cannot be restored' }),
              }),
            ),
          }),
        },
      },
    },
    async () => ({ backups: await listBackups(app.config.BACKUP_DIR) }),
  );

  app.post(
    '/restore/:table',
    {
      // Idempotency-Key honoured (plugins/idempotency.ts).
      config: { idempotent: true },
      schema: {
        tags: ['backup'],
        summary: 'Restore a table from an Avro backup (the body, or `?from=` a backup of BACKUP_DIR), in one transaction',
        consumes: ['multipart/form-data', ...AVRO_TYPES],
        params: TableParamSchema,
        querystring: RestoreQuerySchema,
        response: {
          200: Type.Object({ table: Type.String(), restored: Type.Integer({ description: 'Rows written' }), mode: Type.String() }),
          ...errorResponses(400, 401, 404, 413, 415, 429, 503),
        },
      },
    },
    async (request, reply) => {
      const table = tableOr404(request.params.table);
      const { mode, from } = request.query;
      const source =
        from === undefined
          ? await restoreBody(request, app.config.UPLOAD_MAX_BYTES, app.config.UPLOAD_IDLE_TIMEOUT_MS)
          : await fromFolder(request, from);
      const result = await restoreTable(app.store, table, source, mode, undefined, { signal: clientSignal(request, reply) });
      request.log.info({ ...result, from }, 'table restored');
      return result;
    },
  );

  async function fromFolder(request: FastifyRequest, name: string): Promise<Readable> {
    if (hasBody(request)) throw new AppError('BAD_REQUEST', 'Send either an Avro file or ?from=<backup name>, not both');
    return openBackup(app.config.BACKUP_DIR, name);
  }
}

const hasBody = (request: FastifyRequest): boolean =>
  request.headers['transfer-encoding'] !== undefined || Number(request.headers['content-length'] ?? 0) > 0;

/** The uploaded Avro file, streamed: a multipart field `file`, or the raw body (see AVRO_TYPES). */
async function restoreBody(request: FastifyRequest, maxBytes: number, idleTimeoutMs: number): Promise<AsyncIterable<Buffer>> {
  if (request.isMultipart()) return uploadSource(request, maxBytes, idleTimeoutMs);
  const type = request.headers['content-type'];
  if (type === undefined && !hasBody(request)) {
    throw new AppError('FILE_MISSING', 'Send the Avro file as the body (Content-Type: application/octet-stream) or ?from=<backup name>');
  }
  if (!isAvroContentType(type)) {
    throw new AppError(
      'UNSUPPORTED_MEDIA_TYPE',
      `Send the Avro file as multipart/form-data (field "file") or with Content-Type: ${AVRO_TYPES.join(', ')}`,
    );
  }
  // As an upload's body: cut at `maxBytes` (413), a client silent for `idleTimeoutMs` while the
  // restore waits for its bytes (408: it must not hold the table's write turn), one gone mid-body (499).
  return readBody(request, request.body as Readable, { idleTimeoutMs, maxBytes, nothing: 'restored' });
}
