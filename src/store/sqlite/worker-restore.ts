import type Database from 'better-sqlite3';
import type { Row, TableDef } from '../../tables.js';
import type { LoadThread } from './load-thread.js';
import { packPage, type PackedRows } from './packed-rows.js';
import { rebuildIndexes, type IndexDeferral } from './sqlite-load.js';
import { toWire } from './wire-error.js';

/** Pages posted to the worker and not taken yet, at most (a page is 1,000 to 2,000 rows). */
const IN_FLIGHT = 3;

export interface WorkerRestoreContext {
  /** Opens the transaction on the worker ('begin'), waiting out another process's lock. */
  begin: () => Promise<void>;
  /** How indexes the restore dropped are built after its commit; `db`: where, should that fail. */
  deferral?: IndexDeferral;
  db: Database.Database;
}

/**
 * A restore on the load worker (importSqliteRows there, in one transaction on its connection):
 * this thread decodes the file's pages into packed chunks (packedPages, or avro-packed.ts for a
 * file in the table's own layout), the worker inserts them, so a restore
 * uses two cores as an upload does. Pages the caller's iterable fails on (a bad file, a client
 * gone) are passed on as that error: the worker rolls back, and the caller's error is thrown.
 */
export async function restoreOnWorker(
  thread: LoadThread,
  table: TableDef,
  pages: AsyncIterable<PackedRows>,
  mode: 'replace' | 'merge',
  context: WorkerRestoreContext,
): Promise<number> {
  await context.begin();
  const restore = thread.send<{ written: number; dropped: string[] }>({
    op: 'restore',
    table,
    mode,
    deferIndexes: context.deferral !== undefined,
  });
  let failed = false;
  const done = restore.answer.catch((error: unknown) => {
    failed = true;
    throw error;
  });
  done.catch(() => undefined);
  const taken: Promise<unknown>[] = [];
  try {
    for await (const packed of pages) {
      if (failed) break;
      const fed = thread.call({ op: 'feed', to: restore.id, page: packed }, [packed.numbers.buffer, packed.lengths.buffer]);
      fed.catch(() => undefined);
      taken.push(fed);
      while (taken.length >= IN_FLIGHT && !failed) await Promise.race([taken.shift(), done]);
    }
    if (!failed) await Promise.race([thread.call({ op: 'feed', to: restore.id, page: null }), done]);
  } catch (error) {
    if (failed) throw error;
    thread.call({ op: 'feed', to: restore.id, page: null, error: toWire(error) }).catch(() => undefined);
    await done.catch(() => undefined);
    throw error;
  }
  const { written, dropped } = await done;
  if (context.deferral !== undefined) await rebuildIndexes(context.db, context.deferral, dropped);
  return written;
}

/** Pages of rows as the worker's chunks. */
export async function* packedPages(table: TableDef, pages: AsyncIterable<readonly Row[]>): AsyncGenerator<PackedRows> {
  for await (const page of pages) yield packPage(table, page);
}
