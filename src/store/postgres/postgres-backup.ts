import type pg from 'pg';
import { AppError } from '../../errors.js';
import { formatInstant } from '../../ingest/instant.js';
import type { Row, TableDef } from '../../tables.js';
import { quoteIdent } from '../ddl.js';
import { copyIn, copyLine } from './copy-text.js';
import { isConnectionLoss, mapPgError } from './errors.js';

/** Rows per FETCH from the export cursor, and per COPY message on import. */
const PAGE = 1000;

const UNIQUE_VIOLATION = '23505';

/**
 * Streams a table in id order through a server-side cursor, PAGE rows per FETCH, inside a
 * read-only REPEATABLE READ transaction: one snapshot from the first row to the last, while
 * writers go on. Datetimes leave the server as epoch milliseconds (TIMESTAMPTZ has no zone to
 * lose) and become the stored canonical UTC text. Stopping early (a client gone) closes the
 * cursor and returns the connection.
 */
export async function* exportPostgresRows(pool: pg.Pool, table: TableDef): AsyncIterable<Row> {
  const columns = table.columns.map((c) =>
    c.type === 'datetime' ? `(EXTRACT(EPOCH FROM ${quoteIdent(c.name)}) * 1000)::int8 AS ${quoteIdent(c.name)}` : quoteIdent(c.name),
  );
  const instants = table.columns.flatMap((c, i) => (c.type === 'datetime' ? [i] : []));
  const client = await connect(pool);
  let done = false;
  let failure: unknown;
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    await client.query(`DECLARE backup_rows NO SCROLL CURSOR FOR SELECT ${columns.join(', ')} FROM ${quoteIdent(table.name)} ORDER BY id`);
    for (;;) {
      const { rows } = await client.query<Row>({ text: `FETCH ${PAGE} FROM backup_rows`, rowMode: 'array' });
      for (const row of rows) {
        for (const i of instants) if (row[i] !== null) row[i] = formatInstant(new Date(row[i] as number));
      }
      yield* rows;
      if (rows.length < PAGE) break;
    }
    await client.query('COMMIT');
    done = true;
  } catch (error) {
    failure = error;
    throw mapPgError(error);
  } finally {
    await finish(client, done, failure);
  }
}

/**
 * Writes rows into a table in one transaction, holding the table's write lock as an upload does.
 * `replace`: DELETE, then COPY straight into the table (its primary key catches a repeated id).
 * `merge`: COPY into a temporary table, refuse a repeated id, then one INSERT … ON CONFLICT (id)
 * DO UPDATE. The statement triggers keep hire_counts exact. Any error rolls everything back.
 */
export async function importPostgresRows(
  pool: pg.Pool,
  table: TableDef,
  rows: AsyncIterable<Row>,
  mode: 'replace' | 'merge',
): Promise<number> {
  const target = quoteIdent(table.name);
  const names = table.columns.map((c) => quoteIdent(c.name)).join(', ');
  const client = await connect(pool);
  let done = false;
  let failure: unknown;
  try {
    await client.query('BEGIN');
    await client.query(`LOCK TABLE ${target} IN SHARE ROW EXCLUSIVE MODE`);
    let copied: number;
    if (mode === 'replace') {
      await client.query(`DELETE FROM ${target}`);
      copied = await copyIn(client, `COPY ${target} (${names}) FROM STDIN`, pages(rows));
    } else {
      await client.query(`CREATE TEMP TABLE restore_stage ON COMMIT DROP AS SELECT ${names} FROM ${target} WITH NO DATA`);
      copied = await copyIn(client, `COPY restore_stage (${names}) FROM STDIN`, pages(rows));
      const twice = await client.query<{ id: number }>('SELECT id FROM restore_stage GROUP BY id HAVING count(*) > 1 ORDER BY id LIMIT 1');
      if (twice.rows.length > 0) throw repeated(twice.rows[0]!.id);
      const updates = table.columns.filter((c) => !c.primaryKey).map((c) => `${quoteIdent(c.name)} = EXCLUDED.${quoteIdent(c.name)}`);
      await client.query(
        `INSERT INTO ${target} (${names}) SELECT ${names} FROM restore_stage ORDER BY id ON CONFLICT (id) DO UPDATE SET ${updates.join(', ')}`,
      );
    }
    await client.query('COMMIT');
    done = true;
    return copied;
  } catch (error) {
    failure = error;
    const duplicate = (error as { code?: unknown }).code === UNIQUE_VIOLATION ? keyOf(error) : undefined;
    throw duplicate === undefined ? mapPgError(error) : repeated(duplicate);
  } finally {
    await finish(client, done, failure);
  }
}

/** The rows as COPY text, PAGE rows per piece. */
async function* pages(rows: AsyncIterable<Row>): AsyncIterable<string> {
  let text = '';
  let n = 0;
  for await (const row of rows) {
    text += copyLine(row);
    if (++n % PAGE === 0) {
      yield text;
      text = '';
    }
  }
  if (text !== '') yield text;
}

/** The id in a unique violation's detail: `Key (id)=(42) already exists.` */
function keyOf(error: unknown): number | string {
  const detail = String((error as { detail?: unknown }).detail ?? '');
  const match = /\(id\)=\((\d+)\)/.exec(detail);
  return match === null ? '?' : Number(match[1]);
}

const repeated = (id: number | string): AppError =>
  new AppError('BACKUP_INVALID', `The file holds id ${id} more than once; nothing was restored`, { field: 'id', id });

// node-pg emits a held connection's failure between queries on the client: without a listener,
// that would crash the process while an export waits for a slow reader.
const ignore = (): void => undefined;

async function connect(pool: pg.Pool): Promise<pg.PoolClient> {
  try {
    const client = await pool.connect();
    client.on('error', ignore);
    return client;
  } catch (error) {
    throw mapPgError(error);
  }
}

/**
 * Ends the transaction unless it committed (ROLLBACK after a failure or an early stop) and
 * returns the connection, or destroys it when it was lost or could not be rolled back.
 */
async function finish(client: pg.PoolClient, committed: boolean, failure: unknown): Promise<void> {
  let broken: unknown = failure !== undefined && isConnectionLoss(failure) ? failure : undefined;
  if (!committed && broken === undefined) await client.query('ROLLBACK').catch((error: unknown) => (broken = error));
  client.off('error', ignore);
  client.release(broken === undefined ? undefined : broken instanceof Error ? broken : new Error(String(broken)));
}
