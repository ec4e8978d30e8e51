import { setImmediate as nextTurn } from 'node:timers/promises';
import type Database from 'better-sqlite3';
import { AppError } from '../../errors.js';
import { primaryKeyOf, type Row, type TableDef } from '../../tables.js';
import { quoteIdent } from '../ddl.js';
import { hireCountColumns } from '../hire-count-key.js';
import { HireCountBuffer } from './hire-count-buffer.js';
import { emptyInSlices } from './sqlite-empty.js';
import { DEFER_INDEXES_AFTER, type IndexDeferral } from './sqlite-load.js';

/** Rows per multi-row INSERT, as an upload's (one statement call instead of 64). */
const ROWS_PER_STATEMENT = 64;
/** Rows inserted between two turns of the event loop (~15–30 ms of SQLite work). */
const ROWS_PER_TURN = 2048;

export const repeated = (field: string, id: Row[number], record: number): AppError =>
  new AppError('BACKUP_INVALID', `The file holds ${field} ${String(id)} twice (again at record ${record}); nothing was restored`, {
    record,
    field,
    id,
  });

const isPrimaryKeyViolation = (error: unknown): boolean => (error as { code?: unknown }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY';

/**
 * `replace` restore, inside the caller's open write transaction, which this commits: the table is
 * emptied in slices (emptyInSlices), then filled as an upload fills it: 64 rows per INSERT, the
 * hire counts kept in memory instead of the per-row trigger (HireCountBuffer), the secondary
 * indexes built after the commit on a worker thread when the file is big (IndexDeferral), the
 * event loop given a turn every ROWS_PER_TURN rows. The emptied table's primary key catches an
 * id the file holds twice. `offThread` (the load worker): the table is emptied at once.
 */
export async function replaceRows(
  db: Database.Database,
  table: TableDef,
  pages: AsyncIterable<readonly Row[]>,
  deferral?: IndexDeferral,
  offThread = false,
): Promise<number> {
  const target = quoteIdent(table.name);
  const names = table.columns.map((c) => quoteIdent(c.name));
  const tuple = `(${names.map(() => '?').join(', ')})`;
  // hire_counts is derived from hired_employees alone: emptied first, the inserts count from zero.
  if (table.name === 'hired_employees') db.exec('DELETE FROM hire_counts');
  const indexes = await emptyInSlices(db, table.name, offThread);
  const counts = table.name === 'hired_employees' ? new HireCountBuffer(db, hireCountColumns(table)) : undefined;
  const insertOne = db.prepare(`INSERT INTO ${target} (${names.join(', ')}) VALUES ${tuple}`);
  const insertMany = db.prepare(`INSERT INTO ${target} (${names.join(', ')}) VALUES ${Array(ROWS_PER_STATEMENT).fill(tuple).join(', ')}`);
  const key = primaryKeyOf(table);
  const keyOf = (row: Row): Row[number] => row[key.index] ?? null;
  const stored = db.prepare(`SELECT 1 FROM ${target} WHERE ${quoteIdent(key.name)} = ?`).pluck();

  /** The record (1-based) of the first row of `pending` whose id is stored or repeated in it. */
  const firstRepeated = (pending: readonly Row[], before: number): AppError => {
    const seen = new Set<Row[number]>();
    for (let k = 0; k < pending.length; k++) {
      const id = keyOf(pending[k]!);
      if (seen.has(id) || stored.get(id) !== undefined) return repeated(key.name, id, before + k + 1);
      seen.add(id);
    }
    return repeated(key.name, keyOf(pending[0]!), before + 1);
  };

  const width = names.length;
  // One statement's parameters, filled in place row after row (better-sqlite3 binds them at once).
  const values = new Array<Row[number]>(ROWS_PER_STATEMENT * width);
  const pending: Row[] = [];
  let written = 0;
  const flushPending = async (): Promise<void> => {
    if (pending.length === ROWS_PER_STATEMENT) {
      try {
        insertMany.run(values);
      } catch (error) {
        // The statement failed as a whole: none of its rows is stored.
        if (isPrimaryKeyViolation(error)) throw firstRepeated(pending, written);
        throw error;
      }
    } else {
      for (let k = 0; k < pending.length; k++) {
        try {
          insertOne.run(pending[k]!);
        } catch (error) {
          if (isPrimaryKeyViolation(error)) throw repeated(key.name, keyOf(pending[k]!), written + k + 1);
          throw error;
        }
      }
    }
    let flush = false;
    if (counts !== undefined) for (const row of pending) flush = counts.count(row) || flush;
    written += pending.length;
    pending.length = 0;
    if (flush) await counts!.flush();
    if (written % ROWS_PER_TURN === 0) await nextTurn();
  };

  for await (const page of pages) {
    for (const row of page) {
      const at = pending.length * width;
      for (let i = 0; i < width; i++) values[at + i] = row[i] ?? null;
      pending.push(row);
      if (pending.length === ROWS_PER_STATEMENT) await flushPending();
    }
  }
  if (pending.length > 0) await flushPending();
  await counts?.close();
  const later = deferral !== undefined && written >= DEFER_INDEXES_AFTER;
  if (!later) for (const sql of indexes) db.exec(sql);
  db.exec('COMMIT');
  if (later) await buildIndexes(db, deferral, indexes);
  return written;
}

/**
 * Builds the emptied table's indexes after the commit, before the writer turn is given back: on
 * a worker thread, or here when that fails. Should both fail, the next start builds them.
 */
async function buildIndexes(db: Database.Database, deferral: IndexDeferral, statements: readonly string[]): Promise<void> {
  try {
    await deferral.build(statements);
  } catch {
    try {
      for (const sql of statements) db.exec(sql.replace(/^CREATE INDEX /i, 'CREATE INDEX IF NOT EXISTS '));
    } catch {
      // Left to the next start (SqliteStore.migrate).
    }
  }
}
