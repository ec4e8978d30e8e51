import { getHeapStatistics } from 'node:v8';
import type pg from 'pg';
import { instantFromMillis } from '../../backup/timestamp.js';
import { primaryKeyOf, type Row, type TableDef } from '../../tables.js';
import { quoteIdent } from '../ddl.js';
import type { AvroPage, ExportOptions } from '../store.js';
import { copyAvroConverter, type ConvertedPage } from './copy-avro.js';
import { CopyOutBuffer } from './copy-out.js';
import { mapPgError } from './errors.js';

/**
 * Rows per export page (a backup's COPY page: ~400 KiB of COPY text). Each page is a statement
 * PostgreSQL parses and plans again (COPY takes no parameters): measured on a backup right
 * after a 1M-row upload, 2,000 rows a page gave 535,000–581,000 rows/s, 8,000 607,000–652,000
 * (16,000 no better).
 */
export const EXPORT_PAGE_ROWS = 8000;

/**
 * Pages between two reads of V8's heap statistics during an export. Measured on a 10M-row
 * backup: without them the server peaked at 173–175 MB, with them at 127–132 MB (the same
 * number of young collections). The main thread is never idle during a backup, and V8 appeared to
 * free collected buffers only at its next collection or when its statistics are read. A read
 * costs microseconds.
 */
const PAGES_PER_HEAP_READ = 8;

/**
 * The selected columns, in dictionary order: datetimes as epoch milliseconds. By date_part, a
 * double, not EXTRACT, a numeric: measured with psql on 10M rows, a COPY of the columns took 5.0 s
 * against 7.1 s. Exact for every instant this service stores (whole milliseconds: ingest drops
 * the digits past them): the double is within 1e-3 ms of the integer the cast rounds it to.
 * test/store/instants.test.ts checks the ends of the range.
 */
const exportColumns = (table: TableDef): string[] =>
  table.columns.map((c) =>
    c.type === 'datetime' ? `(date_part('epoch', ${quoteIdent(c.name)}) * 1000)::int8 AS ${quoteIdent(c.name)}` : quoteIdent(c.name),
  );

/** Runs one page's read with a slot of the store's export budget. */
export type PageGate = <T>(read: () => Promise<T>) => Promise<T>;

/**
 * Streams a table in primary key order, in keyset pages of EXPORT_PAGE_ROWS rows (`id > last ORDER BY id LIMIT n`),
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
  const text = `SELECT ${columns.join(', ')} FROM ${quoteIdent(table.name)} WHERE ${pk} > $1 ORDER BY ${pk} LIMIT ${EXPORT_PAGE_ROWS}`;
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
    const full = rows.length === EXPORT_PAGE_ROWS;
    if (full) next = read(rows[rows.length - 1]![key.index] as number);
    for (const row of rows) {
      for (const i of instants) if (row[i] !== null) row[i] = instantFromMillis(row[i] as number);
    }
    if (rows.length > 0) yield rows;
    if (!full) return;
  }
}

/**
 * One `COPY … TO STDOUT` on a pooled connection taken for it: its whole output (`text`), written
 * into `room` or a larger buffer that replaces it (`room` in the answer: the whole buffer).
 */
async function copyOut(pool: pg.Pool, sql: string, room?: Buffer<ArrayBuffer>): Promise<{ text: Buffer; room: Buffer<ArrayBuffer> }> {
  let client: pg.PoolClient;
  try {
    client = await pool.connect();
  } catch (error) {
    throw mapPgError(error);
  }
  let failed: Error | undefined;
  try {
    const copy = new CopyOutBuffer(sql, room);
    client.query(copy);
    const text = await copy.output;
    return { text, room: copy.room };
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
  const read = (after: number | undefined, room: Buffer<ArrayBuffer> | undefined): Promise<{ text: Buffer; room: Buffer<ArrayBuffer> }> => {
    // COPY takes no parameters: `after` is a number this code parsed, written as digits.
    const where = after === undefined ? '' : ` WHERE ${pk} > ${String(after)}`;
    const text = gate(() => copyOut(pool, `COPY (${select}${where} ORDER BY ${pk} LIMIT ${EXPORT_PAGE_ROWS}) TO STDOUT`, room));
    // Observed at once: a page read ahead is not awaited when the consumer stops first.
    text.catch(() => undefined);
    return text;
  };
  const convert = copyAvroConverter(table);
  // Record buffers the consumer has released (deflated): later pages are written into them.
  const released: Buffer<ArrayBuffer>[] = [];
  let next = read(undefined, undefined);
  for (let pages = 1; ; pages++) {
    const { text, room } = await next;
    if (pages % PAGES_PER_HEAP_READ === 0) getHeapStatistics();
    const converted = convert(text, released.pop());
    const page: ConvertedPage = { ...converted, release: () => void released.push(converted.buffer) };
    const full = page.count === EXPORT_PAGE_ROWS;
    // The page's text is converted: its buffer takes the next page's. One buffer for the whole
    // backup: with a fresh one per page, a 10M-row backup held up to 44 MB of buffers waiting
    // for a collection (measured; the few small objects left per row make young collections rare).
    if (full) next = read(page.lastKey, room);
    if (page.count > 0) yield page;
    if (!full) return;
  }
}
