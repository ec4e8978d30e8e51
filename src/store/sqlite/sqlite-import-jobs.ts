import Database from 'better-sqlite3';
import type { ImportJob, ImportJobRow, ImportJobStore, JobEnd, JobProgress, NewImportJob } from '../import-jobs.js';

/**
 * The import jobs of a SQLite database live in a file of their own next to it (`<db>.import-jobs`):
 * an import holds the database's single write lock for as long as it runs, and the job's own
 * bookkeeping (new jobs, progress, heartbeats, cancels) must not wait behind it. Migration 006
 * of the SQLite dialect records this; the schema below is created here, idempotently.
 */
export const jobsPathFor = (databasePath: string): string => (databasePath === ':memory:' ? ':memory:' : `${databasePath}.import-jobs`);

const SCHEMA = `
CREATE TABLE IF NOT EXISTS import_jobs (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  table_name TEXT NOT NULL,
  source TEXT NOT NULL,
  options TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('queued', 'running', 'committed', 'dry_run', 'failed', 'cancelled')),
  bytes_read INTEGER NOT NULL DEFAULT 0,
  bytes_total INTEGER,
  records INTEGER NOT NULL DEFAULT 0,
  upload_id TEXT,
  message TEXT,
  attempts INTEGER NOT NULL DEFAULT 0,
  lease_owner TEXT,
  lease_expires_at TEXT,
  cancel_requested INTEGER NOT NULL DEFAULT 0,
  created_at TEXT NOT NULL,
  started_at TEXT,
  finished_at TEXT
);
CREATE INDEX IF NOT EXISTS import_jobs_status_idx ON import_jobs (status, seq);
`;

type JobRow = ImportJobRow<string, number, string>;

const toJob = ({ id, table_name, options, cancel_requested, ...rest }: JobRow): ImportJob => ({
  import_id: id,
  table: table_name,
  ...rest,
  options: JSON.parse(options) as ImportJob['options'],
  cancel_requested: cancel_requested === 1,
});

// ISO instants of toISOString() have a fixed width: they compare as text in time order.
const now = (): string => new Date().toISOString();
const later = (ms: number): string => new Date(Date.now() + ms).toISOString();

/** The job store of one SQLite database: short statements on a connection of its own. */
export class SqliteImportJobStore implements ImportJobStore {
  private readonly db: Database.Database;

  constructor(path: string) {
    this.db = new Database(path);
    if (path !== ':memory:') {
      this.db.pragma('journal_mode = WAL');
      this.db.pragma('synchronous = NORMAL');
    }
    // Every statement here is a single short row write: another process's (the rare second
    // server on one file) is waited for briefly rather than failing the job.
    this.db.pragma('busy_timeout = 2000');
    this.db.exec(SCHEMA);
  }

  async create(job: NewImportJob): Promise<ImportJob> {
    this.db
      .prepare(`INSERT INTO import_jobs (id, table_name, source, options, status, created_at) VALUES (?, ?, ?, ?, 'queued', ?)`)
      .run(job.import_id, job.table, job.source, JSON.stringify(job.options), now());
    return (await this.get(job.import_id))!;
  }

  async get(id: string): Promise<ImportJob | undefined> {
    const row = this.db.prepare('SELECT * FROM import_jobs WHERE id = ?').get(id) as JobRow | undefined;
    return row === undefined ? undefined : toJob(row);
  }

  async list(limit: number, before?: string): Promise<ImportJob[]> {
    const rows = (
      before === undefined
        ? this.db.prepare('SELECT * FROM import_jobs ORDER BY seq DESC LIMIT ?').all(limit)
        : this.db
            .prepare('SELECT * FROM import_jobs WHERE seq < (SELECT seq FROM import_jobs WHERE id = ?) ORDER BY seq DESC LIMIT ?')
            .all(before, limit)
    ) as JobRow[];
    return rows.map(toJob);
  }

  async claim(owner: string, leaseMs: number): Promise<ImportJob | undefined> {
    const at = now();
    // One statement: the pick and the update are atomic, also against another process.
    const row = this.db
      .prepare(
        `UPDATE import_jobs SET status = 'running', lease_owner = @owner, lease_expires_at = @until, attempts = attempts + 1,
           started_at = @at, bytes_read = 0, records = 0
         WHERE seq = (SELECT seq FROM import_jobs
                      WHERE (status = 'queued' AND (lease_expires_at IS NULL OR lease_expires_at <= @at))
                         OR (status = 'running' AND lease_expires_at < @at)
                      ORDER BY seq LIMIT 1)
         RETURNING *`,
      )
      .get({ owner, until: later(leaseMs), at }) as JobRow | undefined;
    return row === undefined ? undefined : toJob(row);
  }

  async heartbeat(
    id: string,
    owner: string,
    leaseMs: number,
    progress: JobProgress,
  ): Promise<{ owned: boolean; cancelRequested: boolean }> {
    const row = this.db
      .prepare(
        `UPDATE import_jobs SET lease_expires_at = @until, bytes_read = @bytes_read, bytes_total = @bytes_total, records = @records
         WHERE id = @id AND lease_owner = @owner AND status = 'running' RETURNING cancel_requested`,
      )
      .get({ id, owner, until: later(leaseMs), ...progress }) as { cancel_requested: number } | undefined;
    return { owned: row !== undefined, cancelRequested: row?.cancel_requested === 1 };
  }

  async finish(id: string, owner: string, end: JobEnd): Promise<boolean> {
    const result = this.db
      .prepare(
        `UPDATE import_jobs SET status = @status, upload_id = @upload_id, message = @message, bytes_read = @bytes_read,
           bytes_total = @bytes_total, records = @records, finished_at = @at, lease_owner = NULL, lease_expires_at = NULL
         WHERE id = @id AND lease_owner = @owner AND status = 'running'`,
      )
      .run({ id, owner, at: now(), ...end });
    return result.changes === 1;
  }

  async release(id: string, owner: string, delayMs: number): Promise<void> {
    this.db
      .prepare(
        `UPDATE import_jobs SET status = 'queued', lease_owner = NULL, lease_expires_at = ?, bytes_read = 0, records = 0
         WHERE id = ? AND lease_owner = ? AND status = 'running'`,
      )
      .run(delayMs > 0 ? later(delayMs) : null, id, owner);
  }

  async requestCancel(id: string): Promise<ImportJob | undefined> {
    this.db
      .prepare(
        `UPDATE import_jobs SET
           cancel_requested = CASE WHEN status IN ('queued', 'running') THEN 1 ELSE cancel_requested END,
           message = CASE WHEN status = 'queued' THEN 'cancelled before it started' ELSE message END,
           finished_at = CASE WHEN status = 'queued' THEN @at ELSE finished_at END,
           lease_expires_at = CASE WHEN status = 'queued' THEN NULL ELSE lease_expires_at END,
           status = CASE WHEN status = 'queued' THEN 'cancelled' ELSE status END
         WHERE id = @id`,
      )
      .run({ id, at: now() });
    return this.get(id);
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}
