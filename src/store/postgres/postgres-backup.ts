import { setImmediate as nextTurn } from 'node:timers/promises';
import type pg from 'pg';
import { AppError } from '../../errors.js';
import { formatInstant } from '../../ingest/instant.js';
import { primaryKeyOf, type Row, type TableDef } from '../../tables.js';
import { quoteIdent } from '../ddl.js';
import { copyIn, copyLine } from './copy-text.js';
import { throwIfGone } from '../write-turns.js';
import { isConnectionLoss, mapPgError } from './errors.js';
import { HireCountTally } from './hire-count-tally.js';
import { lockWithin } from './pool-budget.js';

/** Rows per export page, and per COPY message on import. */
const PAGE = 1000;

const UNIQUE_VIOLATION = '23505';

/** Runs one page's read with a slot of the store's export budget. */
export type PageGate = <T>(read: () => Promise<T>) => Promise<T>;

/**
 * Streams a table in primary key order, in keyset pages of PAGE rows (`id > last ORDER BY id LIMIT n`),
 * each one query on a pooled connection taken for that page only (`gate` bounds how many pages
 * are read at once): a client that reads slowly holds no connection, and no snapshot, between
 * pages. Datetimes leave the server as epoch milliseconds (TIMESTAMPTZ has no zone to lose) and
 * become the stored canonical UTC text.
 */
export async function* exportPostgresRows(pool: pg.Pool, table: TableDef, gate: PageGate = (read) => read()): AsyncIterable<Row> {
  const columns = table.columns.map((c) =>
    c.type === 'datetime' ? `(EXTRACT(EPOCH FROM ${quoteIdent(c.name)}) * 1000)::int8 AS ${quoteIdent(c.name)}` : quoteIdent(c.name),
  );
  const instants = table.columns.flatMap((c, i) => (c.type === 'datetime' ? [i] : []));
  const key = primaryKeyOf(table);
  const pk = quoteIdent(key.name);
  const text = `SELECT ${columns.join(', ')} FROM ${quoteIdent(table.name)} WHERE ${pk} > $1 ORDER BY ${pk} LIMIT ${PAGE}`;
  for (let last = Number.MIN_SAFE_INTEGER; ;) {
    let rows: Row[];
    try {
      rows = (await gate(() => pool.query<Row>({ text, values: [last], rowMode: 'array' }))).rows;
    } catch (error) {
      throw mapPgError(error);
    }
    for (const row of rows) {
      for (const i of instants) if (row[i] !== null) row[i] = formatInstant(new Date(row[i] as number));
    }
    yield* rows;
    if (rows.length < PAGE) return;
    last = rows[rows.length - 1]![key.index] as number;
  }
}

/**
 * Writes rows into a table in one transaction, holding the table's write lock as an upload does
 * (waited for until `lock.deadline`, then 503 BUSY; a client gone by then: nothing written).
 * `replace`: DELETE, then COPY straight into the table (its primary key catches a repeated id);
 * hired_employees' hires are counted here and added once, the insert trigger's work off for the
 * transaction, as an upload's fast path does (migration 004). `merge`: COPY into a temporary
 * table, refuse a repeated id, then one INSERT … ON CONFLICT (id) DO UPDATE; the statement
 * triggers keep hire_counts exact. Any error rolls everything back.
 */
export async function importPostgresRows(
  pool: pg.Pool,
  table: TableDef,
  rows: AsyncIterable<Row>,
  mode: 'replace' | 'merge',
  lock: { deadline: number; signal?: AbortSignal } = { deadline: Number.MAX_SAFE_INTEGER },
): Promise<number> {
  const target = quoteIdent(table.name);
  const names = table.columns.map((c) => quoteIdent(c.name)).join(', ');
  const key = primaryKeyOf(table);
  const pk = quoteIdent(key.name);
  const client = await connect(pool);
  let done = false;
  let failure: unknown;
  try {
    await client.query('BEGIN');
    await lockWithin(client, `LOCK TABLE ${target} IN SHARE ROW EXCLUSIVE MODE`, lock.deadline);
    throwIfGone(lock.signal);
    let copied: number;
    if (mode === 'replace') {
      const tally = table.name === 'hired_employees' ? new HireCountTally(table) : undefined;
      if (tally !== undefined) await client.query(`SET LOCAL hr.hire_counts_deferred = 'on'`);
      await client.query(`DELETE FROM ${target}`);
      copied = await copyIn(client, `COPY ${target} (${names}) FROM STDIN`, pages(rows, tally));
      if (tally !== undefined) {
        await tally.flush(client);
        await client.query(`SET LOCAL hr.hire_counts_deferred = 'off'`);
      }
    } else {
      await client.query(`CREATE TEMP TABLE restore_stage ON COMMIT DROP AS SELECT ${names} FROM ${target} WITH NO DATA`);
      copied = await copyIn(client, `COPY restore_stage (${names}) FROM STDIN`, pages(rows));
      const twice = await client.query<{ key: number }>(
        `SELECT ${pk} AS key FROM restore_stage GROUP BY ${pk} HAVING count(*) > 1 ORDER BY ${pk} LIMIT 1`,
      );
      if (twice.rows.length > 0) throw repeated(key.name, twice.rows[0]!.key);
      const updates = table.columns.filter((c) => !c.primaryKey).map((c) => `${quoteIdent(c.name)} = EXCLUDED.${quoteIdent(c.name)}`);
      await client.query(
        `INSERT INTO ${target} (${names}) SELECT ${names} FROM restore_stage ORDER BY ${pk} ON CONFLICT (${pk}) DO UPDATE SET ${updates.join(', ')}`,
      );
    }
    await client.query('COMMIT');
    done = true;
    return copied;
  } catch (error) {
    failure = error;
    const duplicate = (error as { code?: unknown }).code === UNIQUE_VIOLATION ? keyOf(error, key.name) : undefined;
    throw duplicate === undefined ? mapPgError(error) : repeated(key.name, duplicate);
  } finally {
    await finish(client, done, failure);
  }
}

/** The rows as COPY text, PAGE rows per piece, each counted in `tally` when there is one. */
async function* pages(rows: AsyncIterable<Row>, tally?: HireCountTally): AsyncIterable<string> {
  let text = '';
  let n = 0;
  for await (const row of rows) {
    text += copyLine(row);
    tally?.count(row);
    if (++n % PAGE === 0) {
      yield text;
      text = '';
      // Rows already decoded and a socket that takes every write at once make a chain of
      // microtasks that never gives the event loop a turn (measured: 1.3 s on 200k rows).
      await nextTurn();
    }
  }
  if (text !== '') yield text;
}

/** The key in a unique violation's detail: `Key (id)=(42) already exists.` */
function keyOf(error: unknown, name: string): number | string {
  const detail = String((error as { detail?: unknown }).detail ?? '');
  const prefix = `(${name})=(`;
  const at = detail.indexOf(prefix);
  const match = at === -1 ? null : /^(\d+)\)/.exec(detail.slice(at + prefix.length));
  return match === null ? '?' : Number(match[1]);
}

const repeated = (field: string, id: number | string): AppError =>
  new AppError('BACKUP_INVALID', `The file holds ${field} ${id} more than once; nothing was restored`, { field, id });

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
