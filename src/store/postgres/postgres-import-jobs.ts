import type pg from 'pg';
import type { ImportJob, ImportJobRow, ImportJobStore, JobEnd, JobProgress, NewImportJob } from '../import-jobs.js';
import { mapPgError } from './errors.js';

type JobRow = ImportJobRow<Date, boolean, ImportJob['options']>;

const iso = (d: Date | null): string | null => (d === null ? null : d.toISOString());

const toJob = ({
  id,
  table_name,
  seq: _seq,
  lease_expires_at,
  created_at,
  started_at,
  finished_at,
  ...rest
}: JobRow & { seq?: unknown }): ImportJob => ({
  import_id: id,
  table: table_name,
  ...rest,
  lease_expires_at: iso(lease_expires_at),
  created_at: created_at.toISOString(),
  started_at: iso(started_at),
  finished_at: iso(finished_at),
});

// Leases are measured on the database's clock, the one clock every instance shares.
const LEASE_UNTIL = (param: string): string => `now() + ${param} * interval '1 millisecond'`;

/** The job store on PostgreSQL: short statements on the store's pool. */
export class PostgresImportJobStore implements ImportJobStore {
  constructor(private readonly pool: pg.Pool) {}

  private async rows(sql: string, params: unknown[]): Promise<JobRow[]> {
    try {
      return (await this.pool.query<JobRow>(sql, params)).rows;
    } catch (error) {
      throw mapPgError(error);
    }
  }

  async create(job: NewImportJob): Promise<ImportJob> {
    const [row] = await this.rows(
      `INSERT INTO import_jobs (id, table_name, source, options, status) VALUES ($1, $2, $3, $4, 'queued') RETURNING *`,
      [job.import_id, job.table, job.source, JSON.stringify(job.options)],
    );
    return toJob(row!);
  }

  async get(id: string): Promise<ImportJob | undefined> {
    const [row] = await this.rows('SELECT * FROM import_jobs WHERE id = $1', [id]);
    return row === undefined ? undefined : toJob(row);
  }

  async list(limit: number, before?: string): Promise<ImportJob[]> {
    const rows =
      before === undefined
        ? await this.rows('SELECT * FROM import_jobs ORDER BY seq DESC LIMIT $1', [limit])
        : await this.rows('SELECT * FROM import_jobs WHERE seq < (SELECT seq FROM import_jobs WHERE id = $1) ORDER BY seq DESC LIMIT $2', [
            before,
            limit,
          ]);
    return rows.map(toJob);
  }

  async claim(owner: string, leaseMs: number): Promise<ImportJob | undefined> {
    // SKIP LOCKED: instances claiming at once each get a different job (or none), never wait.
    const [row] = await this.rows(
      `UPDATE import_jobs SET status = 'running', lease_owner = $1, lease_expires_at = ${LEASE_UNTIL('$2')},
         attempts = attempts + 1, started_at = now(), bytes_read = 0, records = 0
       WHERE seq = (SELECT seq FROM import_jobs
                    WHERE (status = 'queued' AND (lease_expires_at IS NULL OR lease_expires_at <= now()))
                       OR (status = 'running' AND lease_expires_at < now())
                    ORDER BY seq LIMIT 1 FOR UPDATE SKIP LOCKED)
       RETURNING *`,
      [owner, leaseMs],
    );
    return row === undefined ? undefined : toJob(row);
  }

  async heartbeat(
    id: string,
    owner: string,
    leaseMs: number,
    progress: JobProgress,
  ): Promise<{ owned: boolean; cancelRequested: boolean }> {
    const [row] = await this.rows(
      `UPDATE import_jobs SET lease_expires_at = ${LEASE_UNTIL('$3')}, bytes_read = $4, bytes_total = $5, records = $6
       WHERE id = $1 AND lease_owner = $2 AND status = 'running' RETURNING *`,
      [id, owner, leaseMs, progress.bytes_read, progress.bytes_total, progress.records],
    );
    return { owned: row !== undefined, cancelRequested: row?.cancel_requested === true };
  }

  async finish(id: string, owner: string, end: JobEnd): Promise<boolean> {
    const rows = await this.rows(
      `UPDATE import_jobs SET status = $3, upload_id = $4, message = $5, bytes_read = $6, bytes_total = $7, records = $8,
         finished_at = now(), lease_owner = NULL, lease_expires_at = NULL
       WHERE id = $1 AND lease_owner = $2 AND status = 'running' RETURNING *`,
      [id, owner, end.status, end.upload_id, end.message, end.bytes_read, end.bytes_total, end.records],
    );
    return rows.length === 1;
  }

  async release(id: string, owner: string, delayMs: number): Promise<void> {
    await this.rows(
      `UPDATE import_jobs SET status = 'queued', lease_owner = NULL,
         lease_expires_at = CASE WHEN $3::bigint > 0 THEN ${LEASE_UNTIL('$3::bigint')} END, bytes_read = 0, records = 0
       WHERE id = $1 AND lease_owner = $2 AND status = 'running' RETURNING *`,
      [id, owner, delayMs],
    );
  }

  async requestCancel(id: string): Promise<ImportJob | undefined> {
    // The row lock orders this against a claim: a job claimed first gets cancel_requested, and
    // its runner rolls back at its next heartbeat.
    const [row] = await this.rows(
      `UPDATE import_jobs SET
         cancel_requested = CASE WHEN status IN ('queued', 'running') THEN TRUE ELSE cancel_requested END,
         message = CASE WHEN status = 'queued' THEN 'cancelled before it started' ELSE message END,
         finished_at = CASE WHEN status = 'queued' THEN now() ELSE finished_at END,
         lease_expires_at = CASE WHEN status = 'queued' THEN NULL ELSE lease_expires_at END,
         status = CASE WHEN status = 'queued' THEN 'cancelled' ELSE status END
       WHERE id = $1 RETURNING *`,
      [id],
    );
    return row === undefined ? undefined : toJob(row);
  }

  async close(): Promise<void> {
    // The pool is the store's: it closes it.
  }
}
