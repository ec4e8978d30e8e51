import type pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { instantFromMillis } from '../../backup/timestamp.js';
import { primaryKeyOf, type Row, type TableDef } from '../../tables.js';
import { quoteIdent } from '../ddl.js';
import type { AvroPage, ExportOptions } from '../store.js';
import { copyAvroConverter } from './copy-avro.js';
import { mapPgError } from './errors.js';

/**
 * Rows per export page (a backup's COPY page: ~400 KiB of COPY text). Each page is a statement
 * PostgreSQL parses and plans again (COPY takes no parameters): measured on a backup right
 * after a 1M-row upload, 2,000 rows a page gave 535,000–581,000 rows/s, 8,000 607,000–652,000
 * (16,000 no better).
 */
export const PAGE = 8000;

/** The selected columns, in dictionary order: datetimes as epoch milliseconds. */
const exportColumns = (table: TableDef): string[] =>
  table.columns.map((c) =>
    c.type === 'datetime' ? `(EXTRACT(EPOCH FROM ${quoteIdent(c.name)}) * 1000)::int8 AS ${quoteIdent(c.name)}` : quoteIdent(c.name),
  );

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
  const columns = exportColumns(table);
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

/** One `COPY … TO STDOUT` on a pooled connection taken for it: its whole output. */
async function copyOut(pool: pg.Pool, sql: string): Promise<Buffer> {
  let client: pg.PoolClient;
  try {
    client = await pool.connect();
  } catch (error) {
    throw mapPgError(error);
  }
  let failed: Error | undefined;
  try {
    const chunks: Buffer[] = [];
    for await (const chunk of client.query(copyTo(sql))) chunks.push(chunk as Buffer);
    return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
  } catch (error) {
    failed = error instanceof Error ? error : new Error(String(error));
    throw mapPgError(error);
  } finally {
    // A COPY cut part-way leaves the connection in an unknown state: it is not given back.
    client.release(failed);
  }
}

/**
 * The backup's export: the same keyset pages as exportPostgresRows, each read as
 * `COPY (SELECT … WHERE id > last ORDER BY id LIMIT n) TO STDOUT` and its text turned straight
 * into Avro records (copy-avro.ts), with no row of values in between. The next page is asked for
 * as soon as a page arrives; a slow client holds no connection between pages.
 */
export async function* exportPostgresAvro(pool: pg.Pool, table: TableDef, gate: PageGate = (read) => read()): AsyncIterable<AvroPage> {
  const pk = quoteIdent(primaryKeyOf(table).name);
  const select = `SELECT ${exportColumns(table).join(', ')} FROM ${quoteIdent(table.name)}`;
  const read = (after: number | undefined): Promise<Buffer> => {
    // COPY takes no parameters: `after` is a number this code parsed, written as digits.
    const where = after === undefined ? '' : ` WHERE ${pk} > ${String(after)}`;
    const text = gate(() => copyOut(pool, `COPY (${select}${where} ORDER BY ${pk} LIMIT ${PAGE}) TO STDOUT`));
    // Observed at once: a page read ahead is not awaited when the consumer stops first.
    text.catch(() => undefined);
    return text;
  };
  const convert = copyAvroConverter(table);
  let next = read(undefined);
  for (;;) {
    const page = convert(await next);
    const full = page.count === PAGE;
    if (full) next = read(page.lastKey);
    if (page.count > 0) yield page;
    if (!full) return;
  }
}
