/**
 * The load worker's thread (see load-thread.ts): a connection of its own to the database file on
 * which one upload at a time runs as a SqliteLoadSession, fed chunks of rows by the main thread,
 * or one restore as importSqliteRows. Requests are handled one after the other, in the order they
 * were posted; the pages a request in progress reads (a commit's rejected rows, a restore's rows)
 * go to it at once.
 */
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import type { Row, TableDef } from '../../tables.js';
import type { LoadOptions, LoadOutcome, Rejection, UploadRecord } from '../store.js';
import { unpackPage, unpackRows, type PackedRows } from './packed-rows.js';
import { importSqliteRows } from './sqlite-backup.js';
import { SqliteLoadSession } from './sqlite-load.js';
import { fromWire, toWire, type WireError } from './wire-error.js';
import { startCheckpoints, type CheckpointOptions } from './checkpoint-loop.js';

export interface LoadWorkerData {
  path: string;
  /** PRAGMA cache_size, as the writer connection's. */
  cacheSize: number;
  walLimit: number;
  /** Runs the store's WAL checkpoints too (checkpoint-loop.ts), instead of a thread of their own. */
  checkpoints?: CheckpointOptions;
}

export type LoadRequest =
  | { id: number; op: 'open'; table: TableDef; options: LoadOptions; deferIndexes: boolean; autocheckpoint: boolean }
  | { id: number; op: 'write'; rows: PackedRows }
  | { id: number; op: 'finish' }
  | { id: number; op: 'commit'; record: UploadRecord }
  /** BEGIN IMMEDIATE for a restore (SQLITE_BUSY: the main thread retries). */
  | { id: number; op: 'begin' }
  /** A restore in the open transaction, reading its pages from feeds; answers the rows written and the indexes to build. */
  | { id: number; op: 'restore'; table: TableDef; mode: 'replace' | 'merge'; deferIndexes: boolean }
  /**
   * A page for the request `to` in progress (a commit: rejected rows; a restore: packed rows);
   * null: there are no more; `error`: the pages failed (the restore rolls back with it).
   */
  | { id: number; op: 'feed'; to: number; page: Rejection[] | PackedRows | null; error?: WireError }
  | { id: number; op: 'rollback' }
  /** Holds the checkpoints back, or lets them go on (handled as it arrives, answered at once). */
  | { id: number; op: 'checkpoints'; paused: boolean }
  /** A connection setting, as on the writer connection (SqliteStore.pragmaOnWriters). */
  | { id: number; op: 'pragma'; text: string }
  | { id: number; op: 'close' };

export type LoadReply = { id: number; ok: true; value?: unknown } | { id: number; ok: false; error: WireError };

const port = parentPort;
if (port === null) throw new Error('load-worker runs on a worker thread');
const data = workerData as LoadWorkerData;

const db = new Database(data.path, { fileMustExist: true });
// As the writer connection's: busy waits happen on the main thread (openLoad retries), syncs at
// checkpoints only (WAL, NORMAL), and the checkpointer thread copies the log back.
db.pragma('busy_timeout = 0');
db.pragma('synchronous = NORMAL');
db.pragma(`cache_size = ${data.cacheSize}`);
db.pragma(`journal_size_limit = ${data.walLimit}`);
db.pragma(`wal_autocheckpoint = ${data.checkpoints === undefined ? 1000 : 0}`);

// Checkpoints find nothing new to copy while a load runs (its rows are not committed), and copy
// its commit once it is; on this thread they cost no isolate of their own (≈ 10 MB of RSS).
const checkpoints = data.checkpoints === undefined ? undefined : startCheckpoints(data.checkpoints);

let session: SqliteLoadSession | undefined;
let table: TableDef | undefined;
/** CREATE INDEX statements the session's commit left to build (the main thread builds them). */
let dropped: string[] = [];

/** The request reading fed pages now (its id), the pages waiting for it, and its wait. */
let reading: number | undefined;
const pages: Extract<LoadRequest, { op: 'feed' }>[] = [];
let wake: (() => void) | undefined;

async function* fed<T>(): AsyncIterable<T> {
  for (;;) {
    while (pages.length === 0) await new Promise<void>((resolve) => (wake = resolve));
    const { id, page, error } = pages.shift()!;
    // Taken: the main thread may send the next page while this one is written.
    reply({ id, ok: true });
    if (error !== undefined) throw fromWire(error);
    if (page === null) return;
    yield page as T;
  }
}

async function* commitRejects(): AsyncIterable<Rejection> {
  for await (const page of fed<Rejection[]>()) yield* page;
}

async function* restorePages(table: TableDef): AsyncIterable<Row[]> {
  for await (const page of fed<PackedRows>()) yield unpackPage(table, page);
}

/** Pages a failed commit never read: answered, so the main thread stops waiting for them. */
function dropPages(): void {
  for (const { id } of pages.splice(0)) reply({ id, ok: true });
}

function reply(message: LoadReply): void {
  port!.postMessage(message);
}

function current(): SqliteLoadSession {
  if (session === undefined) throw new Error('no load is open on the load worker');
  return session;
}

async function handle(request: LoadRequest): Promise<unknown> {
  switch (request.op) {
    case 'open': {
      if (session !== undefined) throw new Error('a load is already open on the load worker');
      db.pragma(`wal_autocheckpoint = ${request.autocheckpoint ? 1000 : 0}`);
      dropped = [];
      table = request.table;
      const deferral = request.deferIndexes
        ? { build: async (statements: readonly string[]) => void dropped.push(...statements) }
        : undefined;
      session = new SqliteLoadSession(db, table, request.options, () => undefined, deferral);
      return undefined;
    }
    case 'write':
      return (await current().write(unpackRows(table!, request.rows))) satisfies LoadOutcome;
    case 'finish':
      return (await current().finish()) satisfies LoadOutcome;
    case 'commit':
      try {
        const open = current();
        session = undefined;
        await open.commit(request.record, commitRejects());
      } finally {
        reading = undefined;
        dropPages();
      }
      return dropped;
    case 'rollback': {
      const open = session;
      session = undefined;
      await open?.rollback();
      return undefined;
    }
    case 'begin':
      db.exec('BEGIN IMMEDIATE');
      return undefined;
    case 'restore':
      try {
        dropped = [];
        const deferral = request.deferIndexes
          ? { build: async (statements: readonly string[]) => void dropped.push(...statements) }
          : undefined;
        // The transaction is open ('begin'); importSqliteRows commits it, or rolls it back.
        const written = await importSqliteRows(
          db,
          request.table,
          restorePages(request.table),
          request.mode,
          () => undefined,
          deferral,
          true,
        );
        return { written, dropped };
      } finally {
        reading = undefined;
        dropPages();
      }
    case 'pragma':
      return db.pragma(request.text, { simple: true });
    case 'feed':
    case 'checkpoints':
      throw new Error('unreachable');
    case 'close':
      if (session !== undefined) await session.rollback();
      session = undefined;
      checkpoints?.stop();
      db.close();
      return undefined;
  }
}

let queue: Promise<void> = Promise.resolve();
port.on('message', (request: LoadRequest) => {
  if (request.op === 'checkpoints') {
    checkpoints?.pause(request.paused);
    return reply({ id: request.id, ok: true });
  }
  if (request.op === 'feed') {
    // A page for a request that has already failed (the main thread sent it before it knew).
    if (request.to !== reading) return reply({ id: request.id, ok: true });
    pages.push(request);
    wake?.();
    wake = undefined;
    return;
  }
  // Known as soon as it arrives: its pages may come before its turn in the queue.
  if (request.op === 'commit' || request.op === 'restore') reading = request.id;
  queue = queue.then(async () => {
    try {
      reply({ id: request.id, ok: true, value: await handle(request) });
    } catch (error) {
      // A session whose open failed is not open.
      if (request.op === 'open') session = undefined;
      reply({ id: request.id, ok: false, error: toWire(error) });
    }
    if (request.op === 'close') port.close();
  });
});
