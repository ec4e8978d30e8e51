import type Database from 'better-sqlite3';
import type { TableDef } from '../../tables.js';
import type { LoadOptions, LoadOutcome, LoadSession, Rejection, StagedRow, UploadRecord } from '../store.js';
import type { LoadThread } from './load-thread.js';
import { packRows } from './packed-rows.js';
import { rebuildIndexes, type IndexDeferral } from './sqlite-load.js';

/**
 * Chunks posted to the load worker and not answered yet, at most: one being inserted, the next
 * waiting its turn on the thread, and one more while this thread parses the following one, so
 * the worker never waits for the parse nor the parse for the worker (at most 3 chunks of 1 MiB
 * of text, held by the worker).
 */
const IN_FLIGHT = 3;
/** Rejected rows per page sent to the worker's commit, at most; and their text, at most. */
const REJECTS_PAGE = 1000;
const REJECTS_PAGE_CHARS = 256 * 1024;

export interface WorkerLoadContext {
  /** Gives the store's writer turn back: once, when the session ends. */
  release: () => void;
  /** How indexes the load dropped are built after its commit; `db`: where, should that fail. */
  deferral?: IndexDeferral;
  db: Database.Database;
  /** SQLite's own checkpoints stay on for the worker's connection (no checkpointer thread). */
  autocheckpoint: boolean;
}

const none = (): LoadOutcome => ({ inserted: 0, updated: 0, incomplete: 0, rejected: [] });

function add(total: LoadOutcome, outcome: LoadOutcome): void {
  total.inserted += outcome.inserted;
  total.updated += outcome.updated;
  total.incomplete += outcome.incomplete;
  for (const r of outcome.rejected) total.rejected.push(r);
}

/**
 * An upload's transaction on the load worker (load-worker.ts): the rows are inserted on another
 * core while this thread parses and checks the next ones, and the event loop never waits for
 * SQLite. `write` hands a chunk over and returns what earlier chunks did; the rest comes from
 * `finish`. Same rules, same statements, same transaction as SqliteLoadSession, which is what
 * runs on the worker.
 */
export class WorkerLoadSession implements LoadSession {
  private readonly inFlight: Promise<LoadOutcome>[] = [];
  private ended = false;

  private constructor(
    private readonly thread: LoadThread,
    private readonly table: TableDef,
    private readonly context: WorkerLoadContext,
  ) {}

  /** Opens the transaction on the worker (BEGIN IMMEDIATE); throws its error (SQLITE_BUSY: retry). */
  static async open(thread: LoadThread, table: TableDef, options: LoadOptions, context: WorkerLoadContext): Promise<WorkerLoadSession> {
    await thread.call({
      op: 'open',
      table,
      options,
      deferIndexes: context.deferral !== undefined,
      autocheckpoint: context.autocheckpoint,
    });
    return new WorkerLoadSession(thread, table, context);
  }

  async write(rows: readonly StagedRow[]): Promise<LoadOutcome> {
    const packed = packRows(this.table, rows);
    const answer = this.thread.call<LoadOutcome>({ op: 'write', rows: packed }, [
      packed.numbers.buffer,
      packed.lengths.buffer,
      packed.incomplete.buffer,
      packed.lines.buffer,
    ]);
    // Observed at once: a failure is thrown by a later write or by finish.
    answer.catch(() => undefined);
    this.inFlight.push(answer);
    const total = none();
    while (this.inFlight.length >= IN_FLIGHT) add(total, await this.inFlight.shift()!);
    return total;
  }

  async finish(): Promise<LoadOutcome> {
    const total = await this.drain();
    add(total, await this.thread.call<LoadOutcome>({ op: 'finish' }));
    return total;
  }

  async commit(record: UploadRecord, rejects: AsyncIterable<Rejection>): Promise<void> {
    try {
      await this.drain();
      const commit = this.thread.send<string[]>({ op: 'commit', record });
      let failed = false;
      const committed = commit.answer.catch((error: unknown) => {
        failed = true;
        throw error;
      });
      committed.catch(() => undefined);
      for await (const page of pagesOf(rejects)) {
        if (failed) break;
        await Promise.race([this.thread.call({ op: 'feed', to: commit.id, page }), committed]);
      }
      if (!failed) await Promise.race([this.thread.call({ op: 'feed', to: commit.id, page: null }), committed]);
      const dropped = await committed;
      if (this.context.deferral !== undefined) await rebuildIndexes(this.context.db, this.context.deferral, dropped);
    } finally {
      this.end();
    }
  }

  async rollback(): Promise<void> {
    try {
      await this.drain().catch(() => undefined);
      if (!this.ended && this.thread.alive) await this.thread.call({ op: 'rollback' });
    } finally {
      this.end();
    }
  }

  /** Waits for every chunk handed over; their outcomes, added. */
  private async drain(): Promise<LoadOutcome> {
    const total = none();
    while (this.inFlight.length > 0) add(total, await this.inFlight.shift()!);
    return total;
  }

  private end(): void {
    if (this.ended) return;
    this.ended = true;
    this.context.release();
  }
}

/** The rejected rows in pages of at most REJECTS_PAGE rows and (past a page's first) REJECTS_PAGE_CHARS of text. */
async function* pagesOf(rejects: AsyncIterable<Rejection>): AsyncIterable<Rejection[]> {
  let page: Rejection[] = [];
  let chars = 0;
  for await (const r of rejects) {
    if (page.length > 0 && (page.length >= REJECTS_PAGE || chars + r.raw.length > REJECTS_PAGE_CHARS)) {
      yield page;
      page = [];
      chars = 0;
    }
    page.push(r);
    chars += r.raw.length;
  }
  if (page.length > 0) yield page;
}
