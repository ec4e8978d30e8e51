import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import type { S3Client } from '@aws-sdk/client-s3';
import type { FastifyBaseLogger } from 'fastify';
import type { Config } from '../config.js';
import { isAppError, SourceAbortedError } from '../errors.js';
import { ingestCsv } from '../ingest/upload.js';
import type { ImportJob, JobEnd, JobProgress } from '../store/import-jobs.js';
import type { Store } from '../store/store.js';
import { TABLES } from '../tables.js';
import { createS3Client } from './s3-client.js';
import { openSource, SourceError } from './sources.js';

type RunnerConfig = Pick<
  Config,
  | 'IMPORT_DIR'
  | 'AWS_ENDPOINT_URL_S3'
  | 'IMPORT_CONCURRENCY'
  | 'IMPORT_LEASE_MS'
  | 'IMPORT_RANGE_BYTES'
  | 'IMPORT_RETRY_MS'
  | 'CSV_MAX_RECORD_BYTES'
  | 'CSV_MAX_FIELDS'
>;

/** Why a running job stops before its end. */
type StopReason = 'cancel' | 'shutdown' | 'lost';

interface Running {
  stop(reason: StopReason): void;
  done: Promise<void>;
}

/** How often an idle runner looks for queued jobs (POST /imports on this instance wakes it at once). */
const POLL_MS = 2000;
/**
 * Claims after which a job that keeps meeting a transient failure (the database unavailable or
 * read-only, an internal error) ends failed instead of being queued again. A busy table (BUSY)
 * does not count against it: it only means other writes came first.
 */
export const MAX_ATTEMPTS = 10;

/**
 * Runs import jobs in the background, `IMPORT_CONCURRENCY` at once, each through the very same
 * ingest as POST /upload (one transaction). A job is claimed with a lease the runner renews while
 * it works (with its progress); an instance killed mid-job stops renewing, its transaction dies
 * with its connection, and the job is claimed again once the lease expires, by any instance.
 */
export class ImportRunner {
  /** This instance, as lease owner: host, process and a random part (pids repeat across containers). */
  readonly owner = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  private readonly running = new Map<string, Running>();
  /** Made on the first S3 job (the SDK is loaded then: see s3-client.ts). */
  private s3: Promise<S3Client> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<void> | undefined;
  private again = false;
  private stopped = false;

  constructor(
    private readonly store: Store,
    private readonly config: RunnerConfig,
    private readonly log: FastifyBaseLogger,
  ) {}

  start(): void {
    if (this.config.IMPORT_CONCURRENCY === 0) return;
    this.timer = setInterval(() => this.wake(), POLL_MS);
    this.timer.unref();
    this.wake();
  }

  /** Looks for claimable jobs now (a job was just queued, or a slot freed). */
  wake(): void {
    if (this.stopped || this.config.IMPORT_CONCURRENCY === 0) return;
    if (this.polling !== undefined) {
      this.again = true;
      return;
    }
    this.polling = this.claimWhileFree()
      .catch((error: unknown) => this.log.warn({ err: error }, 'import runner: claiming failed; retrying at the next poll'))
      .finally(() => {
        this.polling = undefined;
        if (this.again) {
          this.again = false;
          this.wake();
        }
      });
  }

  /** A job this instance runs stops now (DELETE /imports/{id} answered by this instance). */
  cancelLocal(id: string): void {
    this.running.get(id)?.stop('cancel');
  }

  /** SIGTERM: running jobs are rolled back and given back to the queue for the next instance. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.polling;
    const running = [...this.running.values()];
    for (const job of running) job.stop('shutdown');
    await Promise.all(running.map((job) => job.done));
    if (this.s3 !== undefined) (await this.s3).destroy();
  }

  private async claimWhileFree(): Promise<void> {
    while (!this.stopped && this.running.size < this.config.IMPORT_CONCURRENCY) {
      const job = await this.store.importJobs.claim(this.owner, this.config.IMPORT_LEASE_MS);
      if (job === undefined) return;
      if (this.stopped) {
        await this.store.importJobs.release(job.import_id, this.owner, 0);
        return;
      }
      this.launch(job);
    }
  }

  private launch(job: ImportJob): void {
    const controller = new AbortController();
    let reason: StopReason | undefined;
    const stop = (why: StopReason): void => {
      if (reason !== undefined) return;
      reason = why;
      controller.abort(new SourceAbortedError(`import ${why}`));
    };
    const done = this.run(job, controller.signal, () => reason, stop)
      .catch((error: unknown) => this.log.error({ err: error, import_id: job.import_id }, 'import runner: job bookkeeping failed'))
      .finally(() => {
        this.running.delete(job.import_id);
        this.wake();
      });
    this.running.set(job.import_id, { stop, done });
  }

  private async run(job: ImportJob, signal: AbortSignal, reason: () => StopReason | undefined, stop: (why: StopReason) => void) {
    const { importJobs } = this.store;
    const id = job.import_id;
    const progress: JobProgress = { bytes_read: 0, bytes_total: null, records: 0 };
    const heartbeat = setInterval(
      () => {
        importJobs.heartbeat(id, this.owner, this.config.IMPORT_LEASE_MS, { ...progress }).then(
          (beat) => {
            if (!beat.owned) stop('lost');
            else if (beat.cancelRequested) stop('cancel');
          },
          (error: unknown) => this.log.warn({ err: error, import_id: id }, 'import heartbeat failed'),
        );
      },
      Math.min(1000, Math.floor(this.config.IMPORT_LEASE_MS / 3)),
    );
    this.log.info({ import_id: id, table: job.table, attempt: job.attempts }, 'import started');
    const end = (status: JobEnd['status'], uploadId: string | null, message: string | null): Promise<boolean> =>
      importJobs.finish(id, this.owner, { ...progress, status, upload_id: uploadId, message });
    try {
      const s3 = job.source.startsWith('s3://') ? await (this.s3 ??= createS3Client(this.config)) : undefined;
      const source = await openSource(this.config, job.source, { s3, signal, rangeBytes: this.config.IMPORT_RANGE_BYTES });
      progress.bytes_total = source.bytesTotal;
      const report = await ingestCsv(this.store, untilAborted(source.stream, signal), {
        table: TABLES[job.table],
        batchSize: job.options.batch_size,
        strict: job.options.strict,
        dryRun: job.options.dry_run,
        onConflict: job.options.on_conflict,
        maxBytes: Number.MAX_SAFE_INTEGER,
        maxRecordChars: this.config.CSV_MAX_RECORD_BYTES,
        maxFields: this.config.CSV_MAX_FIELDS,
        signal,
        onProgress: (bytes, records) => {
          progress.bytes_read = bytes;
          progress.records = records;
        },
      });
      // Stopped between the commit and here: the rows are in, so the job is what the upload was.
      await end(report.status === 'dry_run' ? 'dry_run' : 'committed', report.upload_id, null);
      this.log.info({ import_id: id, status: report.status, received: report.received, rejected: report.rejected }, 'import done');
    } catch (error) {
      const uploadId = uploadIdOf(error);
      const why = reason();
      if (why === 'shutdown') {
        await importJobs.release(id, this.owner, 0);
        this.log.info({ import_id: id }, 'import rolled back for shutdown: queued for the next instance');
      } else if (why === 'lost') {
        this.log.warn({ import_id: id }, 'import lease lost (another instance took the job over): rolled back');
      } else if (why === 'cancel') {
        await end('cancelled', uploadId, 'Cancelled: the import was rolled back, nothing was written');
        this.log.info({ import_id: id }, 'import cancelled');
      } else if (isAppError(error) && error.code === 'BUSY') {
        await importJobs.release(id, this.owner, this.config.IMPORT_RETRY_MS);
        this.log.info({ import_id: id }, 'import waits: the table is busy with other writes');
      } else if (error instanceof SourceError || (isAppError(error) && error.statusCode < 500)) {
        // The file's fault (or its source's): trying again would fail the same way.
        await end('failed', uploadId, error.message);
        this.log.info({ import_id: id, message: error.message }, 'import failed');
      } else if (job.attempts >= MAX_ATTEMPTS) {
        const message = error instanceof Error ? error.message : String(error);
        await end('failed', uploadId, `Gave up after ${job.attempts} attempts; the last one failed: ${message}`);
        this.log.error({ err: error, import_id: id }, 'import failed for good after repeated transient failures');
      } else {
        // The database or the process failed, not the file (a 503, an internal error): rolled
        // back, queued again; nothing of this attempt remains.
        this.log.error({ err: error, import_id: id }, 'import interrupted by a transient failure; it will be retried');
        await importJobs.release(id, this.owner, this.config.IMPORT_RETRY_MS);
      }
    } finally {
      clearInterval(heartbeat);
    }
  }
}

/** The upload an ingest error names (details.upload_id), so a failed job's rejects resolve too. */
function uploadIdOf(error: unknown): string | null {
  const details = isAppError(error) ? (error.details as { upload_id?: unknown } | undefined) : undefined;
  return typeof details?.upload_id === 'string' ? details.upload_id : null;
}

/** The source's chunks until the job is stopped; then the abort's reason (a SourceAbortedError). */
async function* untilAborted(stream: AsyncIterable<Buffer>, signal: AbortSignal): AsyncIterable<Buffer> {
  for await (const chunk of stream) {
    signal.throwIfAborted();
    yield chunk;
  }
  signal.throwIfAborted();
}
