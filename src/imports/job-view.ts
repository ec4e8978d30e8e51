import { Type, type Static } from 'typebox';
import type { ImportJob } from '../store/import-jobs.js';
import { TABLE_NAMES } from '../tables.js';
import { UploadRecordSchema } from '../upload-record.js';

/**
 * What `GET /imports/{id}`, the list and the events answer: the job's state and progress, and once
 * it has ended the fields of the upload it became (the same report as `POST /upload`'s, whose
 * `upload_id` resolves at `/uploads/{id}` and its rejects.csv).
 */

export const ImportStatusSchema = Type.Enum(['queued', 'running', 'committed', 'dry_run', 'failed', 'cancelled'], {
  description:
    '`queued` (waiting for an instance), `running`, `committed`, `dry_run` (validated, nothing written), `failed` (see `message`), `cancelled` (rolled back)',
});

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(schema: T, description: string) =>
  Type.Union([schema, Type.Null()], { description });

const report = UploadRecordSchema.properties;

export const ImportJobSchema = Type.Object(
  {
    import_id: Type.String({ description: 'Id of the job, for GET /imports/{id}' }),
    status: ImportStatusSchema,
    table: Type.Enum(TABLE_NAMES),
    source: Type.String({ description: '`s3://bucket/key` or `file:NAME`' }),
    batch_size: Type.Integer(),
    strict: Type.Boolean(),
    dry_run: Type.Boolean(),
    on_conflict: Type.Enum(['reject', 'update']),
    bytes_read: Type.Integer({ description: 'Bytes of the source read by the current (or last) attempt' }),
    bytes_total: Nullable(Type.Integer(), 'Size of the source; null until it is opened'),
    records: Type.Integer({ description: 'Records parsed so far' }),
    rows_per_second: Type.Integer({ description: 'Records per second of the current (or last) attempt' }),
    cancel_requested: Type.Boolean({ description: 'DELETE /imports/{id} was called; a running job rolls back at its next heartbeat' }),
    attempts: Type.Integer({ description: 'Times an instance took the job up (a retry after a crash or a shutdown counts)' }),
    created_at: Type.String(),
    started_at: Nullable(Type.String(), 'When the current (or last) attempt started'),
    finished_at: Nullable(Type.String(), 'When the job ended'),
    upload_id: Nullable(Type.String(), 'The upload the job ended as: its report at /uploads/{id}; null until it ends'),
    message: Nullable(Type.String(), 'Why the job failed or was cancelled; null otherwise'),
    received: Type.Optional(report.received),
    inserted: Type.Optional(report.inserted),
    updated: Type.Optional(report.updated),
    rejected: Type.Optional(report.rejected),
    incomplete: Type.Optional(report.incomplete),
    elapsed_ms: Type.Optional(report.elapsed_ms),
  },
  { description: 'An import job; once it has ended, with its upload report fields' },
);

export type ImportJobView = Static<typeof ImportJobSchema>;

export const ImportListSchema = Type.Object({
  imports: Type.Array(ImportJobSchema, { description: 'Newest first' }),
  next: Nullable(Type.String(), 'Pass as `before` for the next page; null on the last one'),
});

/** The answer of a job: its state, its rate, and the counts of the upload it ended as, if any. */
export function toView(job: ImportJob, upload?: Static<typeof UploadRecordSchema>): ImportJobView {
  const started = job.started_at === null ? undefined : Date.parse(job.started_at);
  const until = job.finished_at === null ? Date.now() : Date.parse(job.finished_at);
  const seconds = started === undefined ? 0 : Math.max(0.001, (until - started) / 1000);
  const view: ImportJobView = {
    import_id: job.import_id,
    status: job.status,
    table: job.table,
    source: job.source,
    ...job.options,
    bytes_read: job.bytes_read,
    bytes_total: job.bytes_total,
    records: job.records,
    rows_per_second: seconds === 0 ? 0 : Math.round(job.records / seconds),
    cancel_requested: job.cancel_requested,
    attempts: job.attempts,
    created_at: job.created_at,
    started_at: job.started_at,
    finished_at: job.finished_at,
    upload_id: job.upload_id,
    message: job.message,
  };
  if (upload === undefined) return view;
  const { received, inserted, updated, rejected, incomplete, elapsed_ms } = upload;
  return { ...view, received, inserted, updated, rejected, incomplete, elapsed_ms };
}
