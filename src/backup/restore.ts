import type { Store, WriteWait } from '../store/store.js';
import type { TableDef, TableName } from '../tables.js';
import { backupRows, openBackup } from './decode.js';

export type RestoreMode = 'replace' | 'merge';

export interface RestoreResult {
  table: TableName;
  restored: number;
  mode: RestoreMode;
}

/**
 * Restores a table from the bytes of an Avro backup, in one transaction: `replace` makes the
 * table's content exactly the file's, `merge` upserts the file's rows by id. A file that does not
 * match the table or is not whole changes nothing. The header and the first block are read
 * before the store is asked for its write transaction, so a wrong file is refused without waiting
 * for, or holding, the table. A file in the table's own layout (every backup of ours) goes to the
 * store as record bytes (Store#importRecords); any other as rows.
 */
export async function restoreTable(
  store: Store,
  table: TableDef,
  source: AsyncIterable<Buffer>,
  mode: RestoreMode,
  onRow?: (rows: number) => void,
  wait?: WriteWait,
): Promise<RestoreResult> {
  const backup = await openBackup(source, table);
  let restored: number;
  try {
    if (backup.ownLayout) {
      const blocks = await prefetched(backup.blocks, (block) => block.count, onRow);
      restored = await store.importRecords(table, blocks, mode, wait);
    } else {
      const pages = await prefetched(backupRows(table, backup), (page) => page.length, onRow);
      restored = await store.importRows(table, pages, mode, wait);
    }
  } finally {
    // When the store failed before reading every block: stop reading (not awaited: the body may be stalled).
    backup.close();
  }
  return { table: table.name, restored, mode };
}

/**
 * `items` with its first item already read (a broken file fails here, before the store is
 * asked), `onRow` told the rows handed on so far.
 */
async function prefetched<T>(
  items: AsyncGenerator<T, void>,
  rows: (item: T) => number,
  onRow?: (rows: number) => void,
): Promise<AsyncIterable<T>> {
  const first = await items.next();
  return {
    async *[Symbol.asyncIterator]() {
      let n = 0;
      try {
        if (first.done !== true) {
          yield first.value;
          onRow?.((n += rows(first.value)));
        }
        for (;;) {
          const next = await items.next();
          if (next.done === true) break;
          yield next.value;
          onRow?.((n += rows(next.value)));
        }
      } finally {
        await items.return(undefined);
      }
    },
  };
}
