import { Type, type Static } from 'typebox';
import { TABLE_NAMES } from './tables.js';

// Sets of values are `Type.Enum` (JSON Schema's `enum`), which the OpenAPI document shows as
// written; a union of literals would come out as an `anyOf` of one-value enums.

/**
 * The logged report of one upload, declared once: the store's type, the answers of
 * `POST /upload/{table}` and `GET /uploads/{id}`, their OpenAPI entries and the dashboard's type
 * are all this schema (or `Static<>` of it).
 */

export const UploadStatusSchema = Type.Enum(['committed', 'dry_run', 'aborted', 'failed'], {
  description: '`committed`; `dry_run` (validated, nothing written); `aborted` (the client went away); `failed`',
});

export const UploadRecordSchema = Type.Object(
  {
    upload_id: Type.String({ description: 'Id of the upload, for GET /uploads/{id}' }),
    table: Type.Enum(TABLE_NAMES, { description: 'The table, by its canonical name' }),
    source: Type.Enum(['csv', 'batch'], {
      description: '`csv` for POST /upload and the load command, `batch` for a rejected POST /batch',
    }),
    status: UploadStatusSchema,
    received: Type.Integer({ description: 'Records read (blank lines are not records)' }),
    inserted: Type.Integer(),
    updated: Type.Integer(),
    rejected: Type.Integer(),
    incomplete: Type.Integer({ description: 'Accepted rows with an empty field, stored as NULL' }),
    batch_size: Type.Integer(),
    strict: Type.Boolean(),
    dry_run: Type.Boolean(),
    on_conflict: Type.Enum(['reject', 'update']),
    started_at: Type.String({ description: 'UTC instant the upload started' }),
    elapsed_ms: Type.Integer(),
    message: Type.Union([Type.String(), Type.Null()], { description: 'Why the upload did not commit; null when it did' }),
  },
  { description: 'The logged report of one upload' },
);

/** The answer of POST /upload and GET /uploads/{id}: the record and its first rejected rows. */
export const UploadReportSchema = Type.Object({
  ...UploadRecordSchema.properties,
  errors: Type.Array(Type.Object({ line: Type.Integer(), reason: Type.String() }), { description: 'The first 100 rejected rows' }),
});

export type UploadReport = Static<typeof UploadReportSchema>;
