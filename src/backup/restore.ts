import type { Store, WriteWait } from '../store/store.js';
import type { Row, TableDef, TableName } from '../tables.js';
import { decodeBackup } from './decode.js';

export type RestoreMode = 'replace' | 'merge';

export interface RestoreResult {
  table: TableName;
  restored: number;
  mode: RestoreMode;
}

/**
 * Restores a table from the bytes of an Avro backup, in one transaction: `replace` makes the
 * table's content exactly the file's, `merge` upserts the file's rows by id. A file that does not
 * match the table or is not whole changes nothing. The header (and the first block) is read
 * before the store is asked for its write transaction, so a wrong file is refused without waiting
 * for, or holding, the table.
 */
export async function restoreTable(
  store: Store,
  table: TableDef,
  source: AsyncIterable<Buffer>,
  mode: RestoreMode,
  onRow?: (rows: number) => void,
  wait?: WriteWait,
): Promise<RestoreResult> {
  const pages = decodeBackup(source, table);
  const first = await pages.next();
  async function* all(): AsyncIterable<readonly Row[]> {
    let n = 0;
    try {
      if (first.done !== true) {
        yield first.value;
        onRow?.((n += first.value.length));
      }
      for (;;) {
        const next = await pages.next();
        if (next.done === true) break;
        yield next.value;
        onRow?.((n += next.value.length));
      }
    } finally {
      await pages.return(undefined);
    }
  }
  try {
    const restored = await store.importRows(table, all(), mode, wait);
    return { table: table.name, restored, mode };
  } finally {
    // When the store failed before reading every page: stop decoding (not awaited: the body may be stalled).
    pages.return(undefined).catch(() => undefined);
  }
}
