import type { Static } from 'typebox';
import type { Row, TableDef, TableName } from '../tables.js';
import type { ImportJobStore } from './import-jobs.js';
import type { UploadRecordSchema, UploadStatusSchema } from '../upload-record.js';

export type Dialect = 'sqlite' | 'postgres';

/** One accepted CSV record on its way into a table. */
export interface StagedRow {
  /** 1-based line of the file where the record starts. */
  line: number;
  /** The record as it was sent, for the rejects log. */
  raw: string;
  values: Row;
  /** Some optional field was empty and is stored as NULL. */
  incomplete: boolean;
}

export interface Rejection {
  line: number;
  raw: string;
  reason: string;
}

/**
 * Accepted rows already written as PostgreSQL COPY text by the ingest's byte path
 * (ingest/copy-scan.ts), with what a replay through staging and the hire count need. Its
 * buffers are the scanner's, reused by its next part: a session copies what it keeps before
 * its write resolves.
 */
export interface CopyRows {
  /** One COPY text line per row. */
  text: Buffer;
  /** Bytes the rows' records (as sent) are slices of. */
  raw: Buffer;
  /** Per row: its line * 2 (+ 1 when incomplete), then its record's start and end in `raw`. */
  rows: Float64Array;
  /**
   * hired_employees, per row: `year * 4 + quarter - 1` of its instant (-1: not counted, no
   * instant or no department), department_id, job_id (0 when NULL).
   */
  hires?: Float64Array | undefined;
  /** Per row: its primary key (an integer); read before the write resolves, not kept. */
  keys?: Float64Array | undefined;
  count: number;
  incomplete: number;
}

/** What a load session did with the rows it was given. */
export interface LoadOutcome {
  inserted: number;
  updated: number;
  /** Accepted rows (inserted or updated) that had an empty field. */
  incomplete: number;
  rejected: Rejection[];
}

export interface LoadOptions {
  /** `reject`: a duplicate id is a rejected row. `update`: it replaces the stored row. */
  onConflict: 'reject' | 'update';
  /** Reject rows whose references (department_id, job_id) are not in their tables. */
  checkReferences: boolean;
}

export type UploadStatus = Static<typeof UploadStatusSchema>;

/** The logged report of one upload (also what `GET /uploads/{id}` answers), declared by its schema. */
export type UploadRecord = Static<typeof UploadRecordSchema>;

/**
 * One transaction holding a whole upload. Rows are written chunk by chunk as they are parsed;
 * nothing is visible to readers until `commit`.
 */
export interface LoadSession {
  /** Writes (or stages) a chunk; rejections found now are returned, others may come from `finish`. */
  write(rows: readonly StagedRow[]): Promise<LoadOutcome>;
  /** The same for rows the ingest's byte path has written as COPY text (PostgreSQL only). */
  writeCopyRows?(rows: CopyRows): Promise<LoadOutcome>;
  /** Applies anything still staged; returns what that did. Does not commit. */
  finish(): Promise<LoadOutcome>;
  /** Logs the upload's report and rejected rows, then commits everything at once. */
  commit(record: UploadRecord, rejects: AsyncIterable<Rejection>): Promise<void>;
  /** Rolls back every row of the upload. Safe to call twice or after a failed commit. */
  rollback(): Promise<void>;
}

/**
 * What a write brings to its wait for a turn (SQLite's writer, a PostgreSQL slot or table lock).
 * The deadline itself is the store's (WRITE_QUEUE_TIMEOUT_MS): beyond it, 503 BUSY, nothing done.
 */
export interface WriteWait {
  /** Aborts when the client has gone: a write not started yet is never executed (CLIENT_CLOSED). */
  signal?: AbortSignal;
  /**
   * A batch's Idempotency-Key answer, stored in the same transaction as its rows (insertRows), so
   * a crash never leaves the rows without the key that would stop a retry writing them again.
   */
  idempotency?: IdempotentCommit;
}

/** One request's hold on an Idempotency-Key (see plugins/idempotency.ts). */
export interface IdempotencyRef {
  /** Who asked: a hash of the API key, or `anon`. */
  scope: string;
  key: string;
  /** The holding request's random token: only it may answer or release the key. */
  owner: string;
}

/** The answer stored for a key: replayed as is to a repeat of the same request. */
export interface IdempotencyAnswer {
  /** SHA-256 (hex) of the request's body. */
  bodyDigest: string;
  status: number;
  contentType: string;
  body: string;
}

export interface IdempotentCommit {
  ref: IdempotencyRef;
  ttlMs: number;
  /** The answer for the rows written. */
  answer(written: number): IdempotencyAnswer;
}

/** What a key holds when another request already has it. */
export interface IdempotencyRecord {
  /** SHA-256 (hex) of method, path and query. */
  fingerprint: string;
  status: 'in_progress' | 'done';
  answer?: IdempotencyAnswer;
}

/** The Idempotency-Key table (migration 005). */
export interface IdempotencyStore {
  /** Takes the key for this request, or says what holds it (an expired answer or lease is taken over). */
  claim(
    ref: IdempotencyRef,
    fingerprint: string,
    leaseMs: number,
  ): Promise<{ claimed: true } | { claimed: false; record: IdempotencyRecord }>;
  /** Extends the holder's lease; false when the key is no longer its own. */
  renew(ref: IdempotencyRef, leaseMs: number): Promise<boolean>;
  /** Stores the holder's final answer, kept `ttlMs`. */
  complete(ref: IdempotencyRef, answer: IdempotencyAnswer, ttlMs: number): Promise<void>;
  /** Frees the key (the request did not end in an answer to keep): a retry executes. */
  release(ref: IdempotencyRef): Promise<void>;
  /** The request is over and its answer was stored in its own transaction: drop what holds it. */
  forget(ref: IdempotencyRef): void;
  /** Deletes the keys expired at `now`; resolves with how many. */
  purgeExpired(now?: Date): Promise<number>;
}

export interface TableCount {
  name: TableName;
  rows: number;
}

/** One row of a report: NULL (a name stored without one) is null. */
export type ReportRow = Record<string, string | number | null>;

export interface ExportOptions {
  /**
   * `millis`: datetimes as epoch milliseconds (numbers) instead of the canonical UTC text, as a
   * backup writes them: PostgreSQL then hands on what it sent, without a round trip through text.
   */
  datetimes?: 'text' | 'millis';
}

/**
 * A page of a table's rows as Avro binary records of its backup schema (backup/avro-schema.ts),
 * back to back: what a backup's block holds before deflate.
 */
export interface AvroPage {
  readonly records: Buffer;
  readonly count: number;
  /**
   * Called once by a consumer done with `records` (after deflating them): the producer may then
   * write a later page into the same memory. A consumer that never calls it only costs the
   * producer a new buffer.
   */
  readonly release?: () => void;
}

/** A block of a backup's records in the table's own backup layout, inflated (decode.ts: openBackup). */
export interface RecordBlock extends AvroPage {
  /** Place in the file of the block's first record, from 1 (for error messages). */
  readonly first: number;
}

/** The narrow interface the services use; only `store/` knows which database is behind it. */
export interface Store {
  readonly dialect: Dialect;
  /** Import jobs (POST /imports), durable in this database. */
  readonly importJobs: ImportJobStore;
  /** Idempotency-Key answers (plugins/idempotency.ts), durable in this database. */
  readonly idempotency: IdempotencyStore;
  /** Applies pending migrations (idempotent, safe when several instances start at once). */
  migrate(): Promise<void>;
  /** Resolves when the database answers a trivial query. */
  ping(): Promise<void>;
  close(): Promise<void>;
  /**
   * Opens the transaction of one upload. Writers are serialized behind each other; a wait longer
   * than the store's write-queue deadline is 503 BUSY.
   */
  openLoad(table: TableDef, options: LoadOptions, wait?: WriteWait): Promise<LoadSession>;
  /**
   * Inserts complete, valid rows all or nothing. Throws `DUPLICATE_ID` (listing the ids) when any
   * id is already stored, inserting nothing. A client gone before the commit: rolled back, CLIENT_CLOSED.
   */
  insertRows(table: TableDef, rows: readonly Row[], wait?: WriteWait): Promise<number>;
  /** Logs an upload that wrote nothing (dry run, aborted, failed), with its rejected rows. */
  saveUpload(record: UploadRecord, rejects: AsyncIterable<Rejection>): Promise<void>;
  getUpload(id: string): Promise<UploadRecord | undefined>;
  /**
   * The upload's rejected rows in line order, streamed in short keyset pages: no read
   * transaction stays open while the consumer is slow.
   */
  rejects(id: string): AsyncIterable<Rejection>;
  countRows(): Promise<TableCount[]>;
  /** Runs a read-only query (a report's SQL for this dialect) with bound parameters. */
  query(sql: string, params: readonly (string | number)[]): Promise<ReportRow[]>;
  /**
   * A token that differs whenever data committed since the last call may differ (by this process,
   * another instance or any other client), so answers computed after reading it can be reused
   * while it stays the same. `undefined` when the backend cannot tell: nothing may be reused.
   */
  dataVersion(): Promise<string | undefined>;
  /** Empties the three tables (and the report counts derived from them), never blocking the event loop long. */
  reset(wait?: WriteWait): Promise<void>;
  /**
   * Streams a table's rows in id order, as stored (datetimes as canonical UTC text), a page of
   * rows at a time: keyset pages (`id > last ORDER BY id LIMIT n`), each its own short read, so a
   * slow consumer never holds a snapshot, a connection or the WAL. Each page is consistent; a row
   * committed during the export appears if its id is past the page being read. Memory stays flat
   * however large the table. Pages, not rows: a backup handles a thousand rows per step.
   */
  exportRows(table: TableDef, options?: ExportOptions): AsyncIterable<readonly Row[]>;
  /**
   * The same pages as exportRows, already encoded as the backup's Avro records: a backend may
   * turn what its database sends into record bytes without making a row of values first.
   */
  exportAvro(table: TableDef): AsyncIterable<AvroPage>;
  /**
   * Writes pages of rows into a table in one transaction, taking the table's writer turn like an
   * upload. `replace`: the table's content becomes exactly the rows; `merge`: upsert by id. The
   * report counts stay exact (triggers, or counted in memory by a bulk replace). Any error, from
   * the store or thrown by `pages`, rolls everything back; a repeated id is BACKUP_INVALID.
   * Resolves with the rows written.
   */
  importRows(table: TableDef, pages: AsyncIterable<readonly Row[]>, mode: 'replace' | 'merge', wait?: WriteWait): Promise<number>;
  /**
   * importRows for a backup in the table's own layout, taking its blocks as bytes: PostgreSQL
   * turns them into COPY text, SQLite's load worker into its chunks, without a row of values
   * first. Each record is checked as the rows path checks it (BACKUP_INVALID naming the record).
   */
  importRecords(table: TableDef, blocks: AsyncIterable<RecordBlock>, mode: 'replace' | 'merge', wait?: WriteWait): Promise<number>;
}
