import type Database from 'better-sqlite3';
import { AppError } from '../../errors.js';
import type { Mutex } from '../../lib/mutex.js';
import type { Row, TableDef } from '../../tables.js';
import { quoteIdent } from '../ddl.js';
import { mapSqliteError } from './errors.js';

/** Rows between two yields to the event loop, and rows per page of an in-memory export. */
const PAGE = 1000;

const nextTick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

const selectSql = (table: TableDef): string =>
  `SELECT ${table.columns.map((c) => quoteIdent(c.name)).join(', ')} FROM ${quoteIdent(table.name)}`;

/**
 * Streams a table in id order. On a database file, one statement on the reader connection: in
 * WAL mode it reads one snapshot from its first row to its last, whatever commits meanwhile, and
 * other reads on that connection go on. An in-memory database has a single connection, which a
 * statement left open would block for writers: there, pages of PAGE rows by id, each read under
 * the writer lock so it never sees half an upload.
 */
export async function* exportSqliteRows(reader: Database.Database, table: TableDef, writeLock: Mutex): AsyncIterable<Row> {
  if (reader.memory) {
    const page = reader.prepare(`${selectSql(table)} WHERE id > ? ORDER BY id LIMIT ${PAGE}`).raw();
    for (let last = 0; ;) {
      const rows = await writeLock.run(() => guard(() => page.all(last) as Row[]));
      yield* rows;
      if (rows.length < PAGE) return;
      last = rows[rows.length - 1]![0] as number;
      await nextTick();
    }
  }
  // Stopping early (a client gone) returns this generator, which closes the statement's iterator.
  const rows = guard(
    () =>
      reader
        .prepare(`${selectSql(table)} ORDER BY id`)
        .raw()
        .iterate() as IterableIterator<Row>,
  );
  let n = 0;
  for (const row of rows) {
    yield row;
    if (++n % PAGE === 0) await nextTick();
  }
}

/**
 * Writes rows into a table in one IMMEDIATE transaction on the writer connection; the caller
 * holds the writer lock; `begin` opens the transaction (BEGIN IMMEDIATE). `replace` deletes every row first (the row triggers keep hire_counts
 * exact), `merge` upserts by id. A repeated id in `rows` is BACKUP_INVALID; any error rolls back.
 */
export async function importSqliteRows(
  db: Database.Database,
  table: TableDef,
  rows: AsyncIterable<Row>,
  mode: 'replace' | 'merge',
  begin: () => void | Promise<void> = () => {
    db.exec('BEGIN IMMEDIATE');
  },
): Promise<number> {
  const target = quoteIdent(table.name);
  const names = table.columns.map((c) => quoteIdent(c.name));
  const updates = names.filter((_n, i) => !table.columns[i]!.primaryKey).map((n) => `${n} = excluded.${n}`);
  const upsert = mode === 'merge' ? ` ON CONFLICT (id) DO UPDATE SET ${updates.join(', ')}` : '';
  try {
    await begin();
  } catch (error) {
    throw mapSqliteError(error);
  }
  try {
    // Replace: the emptied table itself catches a repeated id. Merge: a temporary set of the ids seen.
    if (mode === 'replace') {
      // hire_counts is derived from hired_employees alone: emptied first, the delete trigger then
      // finds nothing to decrement, and the inserts count the file's rows from zero.
      if (table.name === 'hired_employees') db.exec('DELETE FROM hire_counts');
      db.exec(`DELETE FROM ${target}`);
    } else db.exec('CREATE TEMP TABLE restore_ids (id INTEGER PRIMARY KEY)');
    const insert = db.prepare(`INSERT INTO ${target} (${names.join(', ')}) VALUES (${names.map(() => '?').join(', ')})${upsert}`);
    const seen = mode === 'merge' ? db.prepare('INSERT INTO temp.restore_ids (id) VALUES (?) ON CONFLICT DO NOTHING') : undefined;
    let n = 0;
    for await (const row of rows) {
      n++;
      if (seen !== undefined && seen.run(row[0] ?? null).changes === 0) throw repeated(row[0] ?? null, n);
      try {
        insert.run(row);
      } catch (error) {
        if ((error as { code?: unknown }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY') throw repeated(row[0] ?? null, n);
        throw error;
      }
      if (n % PAGE === 0) await nextTick();
    }
    if (seen !== undefined) db.exec('DROP TABLE temp.restore_ids');
    db.exec('COMMIT');
    return n;
  } catch (error) {
    if (db.inTransaction) db.exec('ROLLBACK');
    throw mapSqliteError(error);
  }
}

const repeated = (id: Row[number], record: number): AppError =>
  new AppError('BACKUP_INVALID', `The file holds id ${String(id)} twice (again at record ${record}); nothing was restored`, {
    record,
    field: 'id',
    id,
  });

function guard<T>(fn: () => T): T {
  try {
    return fn();
  } catch (error) {
    throw mapSqliteError(error);
  }
}
