import { setImmediate as nextTurn } from 'node:timers/promises';
import type pg from 'pg';
import { AppError } from '../../errors.js';
import { primaryKeyOf, type Row, type TableDef } from '../../tables.js';
import { quoteIdent } from '../ddl.js';
import type { RecordBlock } from '../store.js';
import { columnKinds } from '../../backup/own-layout.js';
import { AvroCopyText } from './avro-copy.js';
import { AvroCopyBinary, BINARY_TYPES } from './avro-copy-binary.js';
import { copyLineFor, CopyWriter } from './copy-text.js';
import { throwIfGone } from '../write-turns.js';
import { isConnectionLoss, mapPgError } from './errors.js';
import { HIRE_COUNT_TRIGGERS, HireCountTally } from './hire-count-tally.js';
import { lockWithin } from './pool-budget.js';
import { buildIndexes, prepareSwap, swapTables } from './table-swap.js';

const UNIQUE_VIOLATION = '23505';

/** How long a replace waits for readers to let go of the old table before copying over instead. */
const SWAP_WAIT_MS = 10_000;

/** What a restore writes: pages of rows, or a backup's blocks in the table's own layout (avro-copy.ts). */
export type RestoreInput = { readonly rows: AsyncIterable<readonly Row[]> } | { readonly blocks: AsyncIterable<RecordBlock> };

/**
 * Writes pages of rows (or a backup's records as bytes) into a table in one transaction, holding the table's write lock as an
 * upload does (waited for until `lock.deadline`, then 503 BUSY; a client gone by then: nothing
 * written). `replace`: COPY into a fresh table that then takes the old one's place (table-swap.ts),
 * or, for a table a DBA has added to (a view, a grant), DELETE and COPY straight into it; either
 * way its primary key catches a repeated id, and hired_employees' hires are counted here and
 * written once, no count trigger firing. `merge`: COPY into a
 * temporary table, refuse a repeated id, then one INSERT … ON CONFLICT (id) DO UPDATE; the
 * statement triggers keep hire_counts exact. Any error rolls everything back. The COPY is fed
 * as an upload's is (CopyWriter: up to 1 MiB in flight), a page per write, so the server
 * inserts one page while the next is decoded: COPY BINARY for a backup's records when the
 * columns have our types (takesBinary), COPY text otherwise.
 */
export async function importPostgresRows(
  pool: pg.Pool,
  table: TableDef,
  pages: RestoreInput,
  mode: 'replace' | 'merge',
  lock: { deadline: number; signal?: AbortSignal; swapWaitMs?: number } = { deadline: Number.MAX_SAFE_INTEGER },
): Promise<number> {
  const target = quoteIdent(table.name);
  const names = table.columns.map((c) => quoteIdent(c.name)).join(', ');
  const key = primaryKeyOf(table);
  const pk = quoteIdent(key.name);
  const client = await connect(pool);
  let done = false;
  let failure: unknown;
  let copy: CopyWriter | undefined;
  try {
    await client.query('BEGIN');
    await lockWithin(client, `LOCK TABLE ${target} IN SHARE ROW EXCLUSIVE MODE`, lock.deadline);
    throwIfGone(lock.signal);
    // A backup's records go as COPY BINARY when the columns have our types (avro-copy-binary.ts).
    const binary = 'blocks' in pages && (await takesBinary(client, table));
    const options = (freeze: boolean): string => {
      const list = [...(binary ? ['FORMAT binary'] : []), ...(freeze ? ['FREEZE'] : [])];
      return list.length === 0 ? '' : ` WITH (${list.join(', ')})`;
    };
    let copied: number;
    if (mode === 'replace') {
      const tally = table.name === 'hired_employees' ? new HireCountTally(table) : undefined;
      const swap = await prepareSwap(client, table.name);
      if (swap !== undefined) {
        // Into a fresh table, no trigger on it: hire_counts is rebuilt from the tally.
        copy = new CopyWriter(client, `COPY ${swap.fresh} (${names}) FROM STDIN${options(true)}`);
        copied = await copyPages(copy, table, pages, binary, tally);
        await buildIndexes(client, swap);
        if (tally !== undefined) {
          await client.query('DELETE FROM hire_counts');
          await tally.flush(client);
        }
        if (!(await swapTables(client, swap, lock.swapWaitMs ?? SWAP_WAIT_MS))) {
          // Readers held the old table: the rows are copied over into it instead.
          await withoutCountTriggers(client, target, tally !== undefined, async () => {
            await client.query(`DELETE FROM ${target}`);
            await client.query(`INSERT INTO ${target} (${names}) SELECT ${names} FROM ${swap.fresh}`);
          });
          await client.query(`DROP TABLE ${swap.fresh}`);
        }
      } else {
        // hire_counts is derived from hired_employees alone: emptied, then counted from the file.
        // The count triggers are off for this transaction (DDL is transactional; the table lock
        // held is the one ALTER TABLE … TRIGGER takes, and readers never wait for it): their
        // transition tables would otherwise hold every deleted and every copied row (measured:
        // the DELETE of 1M rows 2.5–3.2 s with them, 1.1–1.8 s without).
        if (tally !== undefined) await client.query('DELETE FROM hire_counts');
        copied = await withoutCountTriggers(client, target, tally !== undefined, async () => {
          await client.query(`DELETE FROM ${target}`);
          copy = new CopyWriter(client, `COPY ${target} (${names}) FROM STDIN${options(false)}`);
          const n = await copyPages(copy, table, pages, binary, tally);
          if (tally !== undefined) await tally.flush(client);
          return n;
        });
      }
    } else {
      await client.query(`CREATE TEMP TABLE restore_stage ON COMMIT DROP AS SELECT ${names} FROM ${target} WITH NO DATA`);
      copy = new CopyWriter(client, `COPY restore_stage (${names}) FROM STDIN${options(false)}`);
      copied = await copyPages(copy, table, pages, binary);
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
    // A COPY still open holds the connection: ended first (its rows go with the rollback).
    await copy?.end().catch(() => undefined);
    const duplicate = (error as { code?: unknown }).code === UNIQUE_VIOLATION ? keyOf(error, key.name) : undefined;
    throw duplicate === undefined ? mapPgError(error) : repeated(key.name, duplicate);
  } finally {
    await finish(client, done, failure);
  }
}

/** Runs `fn` with hired_employees' count triggers off (when `off`), on again after it. */
async function withoutCountTriggers<T>(client: pg.PoolClient, target: string, off: boolean, fn: () => Promise<T>): Promise<T> {
  const triggers = (verb: string): string => `ALTER TABLE ${target} ${HIRE_COUNT_TRIGGERS.map((t) => `${verb} TRIGGER ${t}`).join(', ')}`;
  if (off) await client.query(triggers('DISABLE'));
  const result = await fn();
  if (off) await client.query(triggers('ENABLE'));
  return result;
}

/**
 * Writes the input as COPY text, one write per page, each row counted in `tally` when there is
 * one; resolves with the rows the server copied. The event loop gets a turn per page: decoded
 * pages and a socket that takes every write at once would otherwise make a chain of microtasks
 * that never yields (measured: 1.3 s on 200k rows).
 */
async function copyPages(copy: CopyWriter, table: TableDef, input: RestoreInput, binary: boolean, tally?: HireCountTally): Promise<number> {
  const pieces =
    'rows' in input
      ? rowText(table, input.rows, tally)
      : binary
        ? new AvroCopyBinary(table, tally).data(input.blocks)
        : new AvroCopyText(table, tally).text(input.blocks);
  for await (const piece of pieces) {
    await copy.write(piece);
    // A COPY the server ended (a repeated id) takes nothing more: its error is end()'s.
    if (copy.failure !== undefined) break;
    await nextTurn();
  }
  return copy.end();
}

async function* rowText(table: TableDef, pages: AsyncIterable<readonly Row[]>, tally?: HireCountTally): AsyncGenerator<Buffer> {
  const line = copyLineFor(table.columns.map((c) => c.type));
  for await (const page of pages) {
    let text = '';
    for (const row of page) {
      text += line(row);
      tally?.count(row);
    }
    yield Buffer.from(text);
  }
}

/**
 * Whether every column has the type COPY BINARY data is written for (BINARY_TYPES): the tables
 * our migrations make do; one a DBA has altered (an integer id, a varchar name) is sent as text,
 * which PostgreSQL converts as it always did.
 */
async function takesBinary(client: pg.PoolClient, table: TableDef): Promise<boolean> {
  const found = await client.query<{ name: string; type: string }>(
    `SELECT attname AS name, format_type(atttypid, atttypmod) AS type FROM pg_attribute
     WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped`,
    [quoteIdent(table.name)],
  );
  const types = new Map(found.rows.map((r) => [r.name, r.type]));
  const kinds = columnKinds(table);
  return table.columns.every((c, i) => types.get(c.name) === BINARY_TYPES[kinds[i]!]);
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
