import type pg from 'pg';
import { instantFromMillis } from '../../backup/timestamp.js';
import { primaryKeyOf, type Row, type TableDef } from '../../tables.js';
import { quoteIdent } from '../ddl.js';
import type { ExportOptions } from '../store.js';
import { mapPgError } from './errors.js';

/** Rows per export page. */
const PAGE = 2000;

/** Runs one page's read with a slot of the store's export budget. */
export type PageGate = <T>(read: () => Promise<T>) => Promise<T>;

/**
 * Streams a table in primary key order, in keyset pages of PAGE rows (`id > last ORDER BY id LIMIT n`),
 * each one query on a pooled connection taken for that page only (`gate` bounds how many pages
 * are read at once): a client that reads slowly holds no connection, and no snapshot, between
 * pages. The next page is asked for as soon as a page arrives, so the server reads it while this
 * one is encoded (one query ahead, one page held). Datetimes leave the server as epoch
 * milliseconds (TIMESTAMPTZ has no zone to lose) and become the stored canonical UTC text,
 * unless `datetimes: 'millis'` asks for them as they came.
 */
export async function* exportPostgresRows(
  pool: pg.Pool,
  table: TableDef,
  gate: PageGate = (read) => read(),
  options: ExportOptions = {},
): AsyncIterable<Row[]> {
  const columns = table.columns.map((c) =>
    c.type === 'datetime' ? `(EXTRACT(EPOCH FROM ${quoteIdent(c.name)}) * 1000)::int8 AS ${quoteIdent(c.name)}` : quoteIdent(c.name),
  );
  const instants = options.datetimes === 'millis' ? [] : table.columns.flatMap((c, i) => (c.type === 'datetime' ? [i] : []));
  const key = primaryKeyOf(table);
  const pk = quoteIdent(key.name);
  const text = `SELECT ${columns.join(', ')} FROM ${quoteIdent(table.name)} WHERE ${pk} > $1 ORDER BY ${pk} LIMIT ${PAGE}`;
  const read = (last: number): Promise<Row[]> => {
    const rows = gate(() => pool.query<Row>({ text, values: [last], rowMode: 'array' })).then(
      (result) => result.rows,
      (error: unknown) => {
        throw mapPgError(error);
      },
    );
    // Observed at once: a page read ahead is not awaited when the consumer stops first.
    rows.catch(() => undefined);
    return rows;
  };
  let next = read(Number.MIN_SAFE_INTEGER);
  for (;;) {
    const rows = await next;
    const full = rows.length === PAGE;
    if (full) next = read(rows[rows.length - 1]![key.index] as number);
    for (const row of rows) {
      for (const i of instants) if (row[i] !== null) row[i] = instantFromMillis(row[i] as number);
    }
    if (rows.length > 0) yield rows;
    if (!full) return;
  }
}
