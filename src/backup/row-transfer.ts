import type { Store } from '../store/store.js';
import type { Row, TableDef } from '../tables.js';

/** The store's two backup methods, required. */
export interface RowTransfer {
  exportRows(table: TableDef): AsyncIterable<Row>;
  importRows(table: TableDef, rows: AsyncIterable<Row>, mode: 'replace' | 'merge'): Promise<number>;
}

/**
 * The store as backup and restore use it. Every store implements both methods; the check only
 * bridges the time until Store declares them required (see store.ts).
 */
export function rowTransfer(store: Store): RowTransfer {
  const { exportRows, importRows } = store;
  if (exportRows === undefined || importRows === undefined) throw new Error(`The ${store.dialect} store cannot back up or restore tables`);
  return { exportRows: exportRows.bind(store), importRows: importRows.bind(store) };
}
