/**
 * The load worker's thread (see load-thread.ts): a connection of its own to the database file on
 * which one upload at a time runs as a SqliteLoadSession, fed chunks of rows by the main thread.
 * Requests are handled one after the other, in the order they were posted; pages of rejected
 * rows for a commit in progress go to that commit at once.
 */
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { isAppError } from '../../errors.js';
import type { TableDef } from '../../tables.js';
import type { LoadOptions, LoadOutcome, Rejection, UploadRecord } from '../store.js';
import { unpackRows, type PackedRows } from './packed-rows.js';
import { SqliteLoadSession } from './sqlite-load.js';

export interface LoadWorkerData {
  path: string;
  /** PRAGMA cache_size, as the writer connection's. */
  cacheSize: number;
  walLimit: number;
}

export type LoadRequest =
  | { id: number; op: 'open'; table: TableDef; options: LoadOptions; deferIndexes: boolean; autocheckpoint: boolean }
  | { id: number; op: 'write'; rows: PackedRows }
  | { id: number; op: 'finish' }
  | { id: number; op: 'commit'; record: UploadRecord }
  /** A page of the rejected rows of the commit request `commit`; null: there are no more. */
  | { id: number; op: 'rejects'; commit: number; page: Rejection[] | null }
  | { id: number; op: 'rollback' }
  /** A connection setting, as on the writer connection (SqliteStore.pragmaOnWriters). */
  | { id: number; op: 'pragma'; text: string }
  | { id: number; op: 'close' };

/** What crosses back for an error: enough to throw the same AppError, or an Error with its SQLite code. */
export interface WireError {
  message: string;
  code?: string;
  app?: { code: string; details?: unknown; retryAfter?: number };
}

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

let session: SqliteLoadSession | undefined;
let table: TableDef | undefined;
/** CREATE INDEX statements the session's commit left to build (the main thread builds them). */
let dropped: string[] = [];

/** The commit reading pages of rejected rows now (its request id), the pages waiting for it, and its wait. */
let reading: number | undefined;
const pages: { id: number; page: Rejection[] | null }[] = [];
let wake: (() => void) | undefined;

async function* commitRejects(): AsyncIterable<Rejection> {
  for (;;) {
    while (pages.length === 0) await new Promise<void>((resolve) => (wake = resolve));
    const { id, page } = pages.shift()!;
    // Taken: the main thread may send the next page while this one is written.
    reply({ id, ok: true });
    if (page === null) return;
    yield* page;
  }
}

/** Pages a failed commit never read: answered, so the main thread stops waiting for them. */
function dropPages(): void {
  for (const { id } of pages.splice(0)) reply({ id, ok: true });
}

function reply(message: LoadReply): void {
  port!.postMessage(message);
}

function wire(error: unknown): WireError {
  const { message, code } = error as { message?: unknown; code?: unknown };
  const text = typeof message === 'string' ? message : String(error);
  if (isAppError(error)) return { message: text, app: { code: error.code, details: error.details, retryAfter: error.retryAfter } };
  return { message: text, ...(typeof code === 'string' ? { code } : {}) };
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
    case 'pragma':
      return db.pragma(request.text, { simple: true });
    case 'rejects':
      throw new Error('unreachable');
    case 'close':
      if (session !== undefined) await session.rollback();
      session = undefined;
      db.close();
      return undefined;
  }
}

let queue: Promise<void> = Promise.resolve();
port.on('message', (request: LoadRequest) => {
  if (request.op === 'rejects') {
    // A page for a commit that has already failed (the main thread sent it before it knew).
    if (request.commit !== reading) return reply({ id: request.id, ok: true });
    pages.push({ id: request.id, page: request.page });
    wake?.();
    wake = undefined;
    return;
  }
  // Known as soon as it arrives: its pages may come before its turn in the queue.
  if (request.op === 'commit') reading = request.id;
  queue = queue.then(async () => {
    try {
      reply({ id: request.id, ok: true, value: await handle(request) });
    } catch (error) {
      // A session whose open failed is not open.
      if (request.op === 'open') session = undefined;
      reply({ id: request.id, ok: false, error: wire(error) });
    }
    if (request.op === 'close') port.close();
  });
});
