import type { TableName } from '../tables.js';

/**
 * An import job's states: `queued → running → committed | dry_run | failed | cancelled`; a
 * running job whose lease expires (its instance died) or that its instance gives back (SIGTERM,
 * a busy writer) is claimable again.
 */
export type ImportJobStatus = 'queued' | 'running' | 'committed' | 'dry_run' | 'failed' | 'cancelled';

export const FINISHED_STATUSES: readonly ImportJobStatus[] = ['committed', 'dry_run', 'failed', 'cancelled'];

/** The options of POST /upload, kept with the job. */
export interface ImportJobOptions {
  batch_size: number;
  strict: boolean;
  dry_run: boolean;
  on_conflict: 'reject' | 'update';
}

export interface ImportJob {
  import_id: string;
  table: TableName;
  /** Canonical source text: `s3://bucket/key` or `file:NAME`. */
  source: string;
  options: ImportJobOptions;
  status: ImportJobStatus;
  bytes_read: number;
  bytes_total: number | null;
  /** Records parsed so far (the current attempt's). */
  records: number;
  /** The upload the job ended as (its report at /uploads/{id}); null until it ends. */
  upload_id: string | null;
  /** Why the job failed or was cancelled. */
  message: string | null;
  /** Claims so far; each attempt is its own upload (see attemptUploadId). */
  attempts: number;
  lease_owner: string | null;
  /** Running: the lease's end. Queued: not claimed before this instant (a retry's back-off). */
  lease_expires_at: string | null;
  cancel_requested: boolean;
  created_at: string;
  /** When the current (or last) attempt started. */
  started_at: string | null;
  finished_at: string | null;
}

/**
 * A job as a dialect's row holds it (`id`, `table_name`), with its instants, its cancel flag and
 * its options in the driver's own types (PostgreSQL: Date, boolean, parsed JSON; SQLite: ISO
 * text, 0/1, JSON text). Each dialect turns it into an ImportJob.
 */
export type ImportJobRow<Instant, Flag, Options> = Omit<
  ImportJob,
  'import_id' | 'table' | 'options' | 'cancel_requested' | 'lease_expires_at' | 'created_at' | 'started_at' | 'finished_at'
> & {
  id: string;
  table_name: ImportJob['table'];
  options: Options;
  cancel_requested: Flag;
  lease_expires_at: Instant | null;
  created_at: Instant;
  started_at: Instant | null;
  finished_at: Instant | null;
};

export interface NewImportJob {
  import_id: string;
  table: TableName;
  source: string;
  options: ImportJobOptions;
}

export interface JobProgress {
  bytes_read: number;
  bytes_total: number | null;
  records: number;
}

export interface JobEnd extends JobProgress {
  status: 'committed' | 'dry_run' | 'failed' | 'cancelled';
  upload_id: string | null;
  message: string | null;
}

/**
 * Import jobs, durable in the database. Every change of a running job is conditioned on its lease
 * (`lease_owner`): an instance that lost its lease changes nothing.
 */
export interface ImportJobStore {
  create(job: NewImportJob): Promise<ImportJob>;
  get(id: string): Promise<ImportJob | undefined>;
  /** Newest first; `before`: an import_id, the jobs created before it (keyset paging). */
  list(limit: number, before?: string): Promise<ImportJob[]>;
  /**
   * Claims the oldest claimable job (queued and due, or running with an expired lease) for
   * `owner` for `leaseMs`: running, attempts + 1, progress zeroed. PostgreSQL: `FOR UPDATE SKIP
   * LOCKED`, so instances never claim the same job.
   */
  claim(owner: string, leaseMs: number): Promise<ImportJob | undefined>;
  /** Renews the lease and writes progress. `owned: false`: the lease was lost, stop at once. */
  heartbeat(id: string, owner: string, leaseMs: number, progress: JobProgress): Promise<{ owned: boolean; cancelRequested: boolean }>;
  /** Ends a running job; false when `owner` no longer holds it. */
  finish(id: string, owner: string, end: JobEnd): Promise<boolean>;
  /** Gives a running job back to the queue, claimable after `delayMs` (SIGTERM: 0). */
  release(id: string, owner: string, delayMs: number): Promise<void>;
  /**
   * Cancels: a queued job ends `cancelled` at once; a running one gets `cancel_requested` (its
   * runner rolls back); a finished one is left as it is. Undefined when there is no such job.
   */
  requestCancel(id: string): Promise<ImportJob | undefined>;
  close(): Promise<void>;
}
