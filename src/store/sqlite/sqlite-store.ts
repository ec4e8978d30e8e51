import { setImmediate as nextTurn } from 'node:timers/promises';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { AppError } from '../../errors.js';
import { primaryKeyOf, TABLE_NAMES, TABLES, type Row, type TableDef } from '../../tables.js';
import { ownLayoutRows } from '../../backup/own-layout.js';
import { recordPages } from '../../backup/record-pages.js';
import { createIndexesSql, quoteIdent } from '../ddl.js';
import { migrationsFor } from '../migrations.js';
import type {
  AvroPage,
  ExportOptions,
  LoadOptions,
  LoadSession,
  RecordBlock,
  Rejection,
  ReportRow,
  Store,
  TableCount,
  UploadRecord,
  WriteWait,
} from '../store.js';
import { throwIfGone, Turns } from '../write-turns.js';
import { Checkpointer, POLL_MS } from './checkpointer.js';
import { SqliteIdempotency } from './sqlite-idempotency.js';
import { jobsPathFor, SqliteImportJobStore } from './sqlite-import-jobs.js';
import { mapSqliteError } from './errors.js';
import { exportSqliteRows, importSqliteRows } from './sqlite-backup.js';
import { emptyInSlices } from './sqlite-empty.js';
import { buildIndexesOffThread } from './index-builder.js';
import { SqliteLoadSession, type IndexDeferral } from './sqlite-load.js';
import { LoadThread } from './load-thread.js';
import type { LoadWorkerData } from './load-worker.js';
import { WorkerLoadSession } from './worker-load-session.js';
import { packedPages, restoreOnWorker } from './worker-restore.js';
import { AvroPackedPages } from './avro-packed.js';
import type { PackedRows } from './packed-rows.js';
import { insertUploadLog, readUpload, rejectsPage } from './sqlite-upload-log.js';

export interface SqliteStoreOptions {
  /** A file path, or `:memory:`. */
  path: string;
  /** Milliseconds a write waits for another process's lock before answering 503. */
  busyTimeoutMs?: number;
  /** Milliseconds a write waits for the writer turn (behind this process's other writes) before 503 BUSY. */
  writeQueueTimeoutMs?: number;
  /** File databases: uploads insert on a worker thread of their own (default true; see LoadThread). */
  loadThread?: boolean;
}

/** WAL size past which it is truncated once checkpointed (journal_size_limit), and the checkpointer copies it all at once. */
export const WAL_LIMIT_BYTES = 64 * 1024 * 1024;

const isBusy = (error: unknown): boolean => {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED'));
};
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** PRAGMA cache_size of the writer connection (negative: KiB): 8 MB, half better-sqlite3's default, for the memory target. */
export const WRITER_CACHE_SIZE = -8_000;
/**
 * PRAGMA cache_size of the connection that builds a big load's indexes (KiB): SQLite's sorter
 * keeps as much in memory before it spills sorted runs to temporary files. 2 MB: the build runs
 * while the server holds its other memory, under the same ceiling.
 */
const BUILD_CACHE_SIZE = -2_000;
const READER_CACHE_SIZE = -4_000;
/**
 * PRAGMA cache_size of the load worker's connection (KiB). A load appends to the primary key's
 * right edge and to hire_counts, a few hot pages; 4 MB instead of the writer's 8 keeps the
 * worker's thread within the memory target (measured: peak RSS of a 1M-row upload 146–151 MB
 * with 8 MB, 141–144 MB with 4 MB).
 */
const LOAD_CACHE_SIZE = -4_000;

/**
 * SQLite behind the store interface. One writer connection, serialized by a FIFO lock so uploads,
 * batches and resets never meet SQLITE_BUSY among themselves; a second, read-only connection
 * (WAL) so reports see the last committed state, never half an upload.
 */
export class SqliteStore implements Store {
  readonly dialect = 'sqlite' as const;
  readonly importJobs: SqliteImportJobStore;
  readonly idempotency: SqliteIdempotency;
  readonly writer: Database.Database;
  private readonly reader: Database.Database;
  private readonly writeLock = new Turns(1);
  private readonly busyTimeoutMs: number;
  private readonly writeQueueTimeoutMs: number;

  constructor(options: SqliteStoreOptions) {
    const memory = options.path === ':memory:';
    if (!memory) mkdirSync(dirname(options.path), { recursive: true });
    this.busyTimeoutMs = options.busyTimeoutMs ?? 5000;
    this.writeQueueTimeoutMs = options.writeQueueTimeoutMs ?? 30_000;
    this.writer = new Database(options.path);
    this.importJobs = new SqliteImportJobStore(jobsPathFor(options.path));
    this.writer.pragma(`busy_timeout = ${this.busyTimeoutMs}`);
    if (!memory) {
      this.writer.pragma('journal_mode = WAL');
      this.writer.pragma('synchronous = NORMAL');
    }
    // SQLite's busy wait would block the event loop, and every request with it, while another
    // process holds the write lock: `begin()` waits asynchronously instead.
    this.writer.pragma('busy_timeout = 0');
    // An in-memory database is private to its connection: reads share the writer's.
    this.reader = memory ? this.writer : new Database(options.path, { readonly: false, fileMustExist: true });
    this.idempotency = new SqliteIdempotency(this.reader, this.writer, (fn) => this.write(fn));
    if (!memory) this.reader.pragma(`busy_timeout = ${options.busyTimeoutMs ?? 5000}`);
    if (!memory) {
      // Page caches: the writer's holds the hot index pages of a bulk load (also what the bench
      // gives the sqlite3 CLI); reports read a few hundred pages of hire_counts, so the reader's
      // stays small even after a COUNT(*) over millions of rows (GET /tables).
      this.writer.pragma(`cache_size = ${WRITER_CACHE_SIZE}`);
      this.reader.pragma(`cache_size = ${READER_CACHE_SIZE}`);
      this.writer.pragma(`journal_size_limit = ${WAL_LIMIT_BYTES}`);
      if (options.loadThread ?? true) {
        const checkpoints = { path: options.path, pollMs: POLL_MS, walLimit: WAL_LIMIT_BYTES };
        this.loadThreadData = { path: options.path, cacheSize: LOAD_CACHE_SIZE, walLimit: WAL_LIMIT_BYTES, checkpoints };
        // Started now: it runs the checkpoints from the start.
        this.loader();
      } else this.startCheckpointer(options.path);
      const build = { path: options.path, busyTimeoutMs: this.busyTimeoutMs, cacheSize: BUILD_CACHE_SIZE };
      this.indexDeferral = { build: (statements) => this.holdCheckpointsDuring(() => buildIndexesOffThread(build, statements)) };
      this.version = this.reader.prepare('PRAGMA data_version').pluck();
    }
  }

  /** File databases: what the load worker is started with; undefined: uploads load on the writer connection. */
  private readonly loadThreadData: LoadWorkerData | undefined;
  private loadThread: LoadThread | undefined;

  /**
   * The load worker, started on the first upload and again after it stopped; undefined when it
   * cannot start (uploads then load on the writer connection, as an in-memory database's do).
   */
  private loader(): LoadThread | undefined {
    if (this.loadThreadData === undefined) return undefined;
    if (this.loadThread?.alive !== true) {
      try {
        this.loadThread = LoadThread.start(this.loadThreadData);
      } catch {
        return undefined;
      }
      // Its checkpoints replace SQLite's own on the writer, until it stops.
      this.writer.pragma('wal_autocheckpoint = 0');
      this.loadThread.onStop(() => {
        if (this.writer.open) this.writer.pragma('wal_autocheckpoint = 1000');
      });
    }
    return this.loadThread;
  }

  /**
   * Holds checkpoints back while `work` runs (a big load's index build, which the upload's answer
   * waits for: a checkpoint copying a gigabyte of WAL meanwhile would compete for the disk and the
   * cores), then lets them go on.
   */
  private async holdCheckpointsDuring<T>(work: () => Promise<T>): Promise<T> {
    if (this.checkpointer !== undefined) return this.checkpointer.holdDuring(work);
    const thread = this.loadThread;
    if (thread?.alive !== true) return work();
    thread.call({ op: 'checkpoints', paused: true }).catch(() => undefined);
    try {
      return await work();
    } finally {
      thread.call({ op: 'checkpoints', paused: false }).catch(() => undefined);
    }
  }

  /**
   * Applies a connection setting (PRAGMA `text`) to every connection that writes: the writer's
   * and the load worker's (started if it is not). What the file system does to all of them at
   * once (filling up, turning read-only) is simulated this way by the fault tests.
   */
  async pragmaOnWriters(text: string): Promise<void> {
    this.writer.pragma(text);
    await this.loader()?.call({ op: 'pragma', text });
  }

  /** Whether uploads insert on the load worker (tests, and the operator's /health-free way to tell). */
  get loadsOffThread(): boolean {
    return this.loadThreadData !== undefined;
  }

  /**
   * `PRAGMA data_version` of the reader: it moves whenever another connection (the writer,
   * another process) commits. A connection's own commits do not move it, so an in-memory database,
   * whose reader is the writer, has none.
   */
  private readonly version: Database.Statement | undefined;

  private checkpointer: Checkpointer | undefined;

  /** File databases: big loads build their indexes after the commit, on a worker thread. */
  private readonly indexDeferral: IndexDeferral | undefined;

  /**
   * Moves WAL checkpoints off the event loop (see Checkpointer); SQLite's automatic checkpoint
   * stays on if the worker cannot start or dies. A WAL grown by a big upload is truncated back
   * to WAL_LIMIT_BYTES when it is next reset; past that size the worker truncates it itself.
   */
  private startCheckpointer(path: string): void {
    this.checkpointer = Checkpointer.start(path, WAL_LIMIT_BYTES);
    if (this.checkpointer === undefined) return;
    this.writer.pragma('wal_autocheckpoint = 0');
    this.checkpointer.onFailure(() => {
      this.checkpointer = undefined;
      if (this.writer.open) this.writer.pragma('wal_autocheckpoint = 1000');
    });
  }

  async migrate(): Promise<void> {
    await this.write(() => {
      const db = this.writer;
      db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)');
      const applied = new Set(db.prepare('SELECT version FROM schema_migrations').pluck().all() as number[]);
      const record = db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)');
      for (const migration of migrationsFor('sqlite')) {
        if (applied.has(migration.version)) continue;
        // Inside write()'s transaction: a savepoint per migration.
        db.transaction(() => {
          for (const statement of migration.statements) db.exec(statement);
          record.run(migration.version, migration.name, new Date().toISOString());
        })();
      }
      // A load that dropped its indexes builds them after its commit; a crash in between leaves
      // them to be built here (a no-op when they exist).
      for (const name of TABLE_NAMES) {
        for (const sql of createIndexesSql(TABLES[name])) db.exec(sql.replace(/^CREATE INDEX /, 'CREATE INDEX IF NOT EXISTS '));
      }
    });
  }

  async ping(): Promise<void> {
    this.guard(() => this.reader.prepare('SELECT 1').get());
  }

  async close(): Promise<void> {
    await this.checkpointer?.stop();
    this.checkpointer = undefined;
    await this.writeLock.run(async () => {
      // After the upload holding the turn, if any, has ended.
      await this.loadThread?.close();
      this.loadThread = undefined;
      if (this.reader !== this.writer && this.reader.open) this.reader.close();
      if (this.writer.open) this.writer.close();
    });
    await this.importJobs.close();
  }

  async openLoad(table: TableDef, options: LoadOptions, wait?: WriteWait): Promise<LoadSession> {
    const release = await this.writerTurn(wait);
    const thread = this.loader();
    if (thread !== undefined) {
      const context = { release, deferral: this.indexDeferral, db: this.writer, autocheckpoint: false };
      try {
        return await this.retryWhileBusy(() => {
          throwIfGone(wait?.signal);
          return WorkerLoadSession.open(thread, table, options, context);
        });
      } catch (error) {
        release();
        throw mapSqliteError(error);
      }
    }
    try {
      // The session opens its transaction (BEGIN IMMEDIATE) as it is made.
      return await this.retryWhileBusy(() => {
        throwIfGone(wait?.signal);
        return new SqliteLoadSession(this.writer, table, options, release, this.indexDeferral);
      });
    } catch (error) {
      if (this.writer.inTransaction) this.writer.exec('ROLLBACK');
      release();
      throw mapSqliteError(error);
    }
  }

  async insertRows(table: TableDef, rows: readonly Row[], wait?: WriteWait): Promise<number> {
    const names = table.columns.map((c) => quoteIdent(c.name));
    const key = primaryKeyOf(table);
    const insert = this.writer.prepare(
      `INSERT INTO ${quoteIdent(table.name)} (${names.join(', ')}) VALUES (${names.map(() => '?').join(', ')}) ON CONFLICT (${quoteIdent(key.name)}) DO NOTHING`,
    );
    return this.write(() => {
      const duplicates: number[] = [];
      for (const row of rows) if (insert.run(row).changes === 0) duplicates.push(row[key.index] as number);
      if (duplicates.length > 0) {
        throw new AppError('DUPLICATE_ID', `${duplicates.length} ${key.name}(s) already exist; nothing was inserted`, {
          ids: duplicates.slice(0, 100),
        });
      }
      if (wait?.idempotency !== undefined) this.idempotency.completeInTransaction(wait.idempotency, rows.length);
      return rows.length;
    }, wait);
  }

  async saveUpload(record: UploadRecord, rejects: AsyncIterable<Rejection>): Promise<void> {
    await this.writeLock.run(
      async () => {
        await this.begin();
        try {
          await insertUploadLog(this.writer, record, rejects);
          this.writer.exec('COMMIT');
        } catch (error) {
          if (this.writer.inTransaction) this.writer.exec('ROLLBACK');
          throw mapSqliteError(error);
        }
      },
      { timeoutMs: this.writeQueueTimeoutMs, what: 'the writer' },
    );
  }

  async getUpload(id: string): Promise<UploadRecord | undefined> {
    return this.guard(() => readUpload(this.reader, id));
  }

  /**
   * Keyset pages in (line, rowid) order, each read whole by one statement: no read transaction
   * stays open on the shared reader while the client reads (see exportSqliteRows).
   */
  async *rejects(id: string): AsyncIterable<Rejection> {
    for (let after = { line: Number.MIN_SAFE_INTEGER, seq: 0 }; ;) {
      const page = this.guard(() => rejectsPage(this.reader, id, after));
      for (const { line, raw, reason } of page.rows) yield { line, raw, reason };
      if (page.next === undefined) return;
      after = page.next;
      await nextTurn();
    }
  }

  async countRows(): Promise<TableCount[]> {
    return this.guard(() =>
      TABLE_NAMES.map((name) => ({
        name,
        rows: this.reader
          .prepare(`SELECT COUNT(*) FROM ${quoteIdent(name)}`)
          .pluck()
          .get() as number,
      })),
    );
  }

  async query(sql: string, params: readonly (string | number)[]): Promise<ReportRow[]> {
    return this.guard(() => this.reader.prepare(sql).all(...params) as ReportRow[]);
  }

  async dataVersion(): Promise<string | undefined> {
    const version = this.version;
    return version === undefined ? undefined : this.guard(() => String(version.get()));
  }

  /**
   * One transaction; each table emptied in slices that give the event loop a turn (emptyInSlices),
   * hire_counts (derived) at once. The emptied tables' indexes are created again before the commit:
   * on empty tables that costs nothing.
   */
  async reset(wait?: WriteWait): Promise<void> {
    await this.write(async () => {
      this.writer.exec('DELETE FROM hire_counts');
      for (const name of TABLE_NAMES) for (const sql of await emptyInSlices(this.writer, name)) this.writer.exec(sql);
    }, wait);
  }

  exportRows(table: TableDef, options?: ExportOptions): AsyncIterable<readonly Row[]> {
    return exportSqliteRows(this.reader, table, this.writeLock, options);
  }

  exportAvro(table: TableDef): AsyncIterable<AvroPage> {
    return recordPages(table, this.exportRows(table, { datetimes: 'millis' }));
  }

  importRows(table: TableDef, pages: AsyncIterable<readonly Row[]>, mode: 'replace' | 'merge', wait?: WriteWait): Promise<number> {
    return this.restore(table, { packed: () => packedPages(table, pages), rows: () => pages }, mode, wait);
  }

  /**
   * A backup of our own layout: on the load worker its records are packed into the worker's
   * chunks without becoming rows on this thread (avro-packed.ts); on the writer connection they
   * are read into rows by hand (own-layout.ts).
   */
  importRecords(table: TableDef, blocks: AsyncIterable<RecordBlock>, mode: 'replace' | 'merge', wait?: WriteWait): Promise<number> {
    return this.restore(
      table,
      { packed: () => new AvroPackedPages(table).pages(blocks), rows: () => ownLayoutRows(table, blocks) },
      mode,
      wait,
    );
  }

  /** A restore of `input`: as packed chunks for the load worker, or as rows for the writer connection. */
  private async restore(
    table: TableDef,
    input: { packed: () => AsyncIterable<PackedRows>; rows: () => AsyncIterable<readonly Row[]> },
    mode: 'replace' | 'merge',
    wait?: WriteWait,
  ): Promise<number> {
    const release = await this.writerTurn(wait);
    try {
      const thread = this.loader();
      if (thread !== undefined) {
        const begin = (): Promise<void> =>
          this.retryWhileBusy(() => {
            throwIfGone(wait?.signal);
            return thread.call<void>({ op: 'begin' });
          });
        try {
          return await restoreOnWorker(thread, table, input.packed(), mode, { begin, deferral: this.indexDeferral, db: this.writer });
        } catch (error) {
          throw mapSqliteError(error);
        }
      }
      return await importSqliteRows(this.writer, table, input.rows(), mode, () => this.begin(wait), this.indexDeferral);
    } finally {
      release();
    }
  }

  /** The writer turn, waited for at most writeQueueTimeoutMs (then 503 BUSY), given up when the client goes. */
  private writerTurn(wait?: WriteWait): Promise<() => void> {
    return this.writeLock.acquire({ timeoutMs: this.writeQueueTimeoutMs, signal: wait?.signal, what: 'the writer' });
  }

  /**
   * Runs `fn` in one write transaction under the writer lock, with SQLite's state errors mapped to
   * 503s. A client gone once the transaction is open: nothing runs, rolled back.
   */
  private async write<T>(fn: () => T | Promise<T>, wait?: WriteWait): Promise<T> {
    const release = await this.writerTurn(wait);
    try {
      await this.begin(wait);
      try {
        const result = await fn();
        // Batches are synchronous up to here: a client that went meanwhile gets nothing committed.
        throwIfGone(wait?.signal);
        this.writer.exec('COMMIT');
        return result;
      } catch (error) {
        if (this.writer.inTransaction) this.writer.exec('ROLLBACK');
        throw mapSqliteError(error);
      }
    } finally {
      release();
    }
  }

  /**
   * BEGIN IMMEDIATE, retried without blocking while another process holds the write lock; after
   * `busyTimeoutMs`, a 503 with Retry-After. Call with the writer lock held.
   */
  private begin(wait?: WriteWait): Promise<void> {
    return this.retryWhileBusy(() => {
      throwIfGone(wait?.signal);
      this.writer.exec('BEGIN IMMEDIATE');
    });
  }

  /** Runs `fn` (which starts a write transaction) again after a short sleep while it meets SQLITE_BUSY. */
  private async retryWhileBusy<T>(fn: () => T | Promise<T>): Promise<T> {
    const deadline = Date.now() + this.busyTimeoutMs;
    for (let wait = 5; ; wait = Math.min(wait * 2, 100)) {
      try {
        return await fn();
      } catch (error) {
        if (!isBusy(error) || Date.now() >= deadline) throw mapSqliteError(error);
      }
      await sleep(Math.min(wait, Math.max(1, deadline - Date.now())));
    }
  }

  private guard<T>(fn: () => T): T {
    try {
      return fn();
    } catch (error) {
      throw mapSqliteError(error);
    }
  }
}
