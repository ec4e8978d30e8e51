import { setImmediate as nextTick } from 'node:timers/promises';
import type Database from 'better-sqlite3';
import { millisFromInstant } from '../../backup/timestamp.js';
import { primaryKeyOf, type Row, type TableDef } from '../../tables.js';
import { quoteIdent } from '../ddl.js';
import type { ExportOptions } from '../store.js';
import type { Turns } from '../write-turns.js';
import { mapSqliteError } from './errors.js';
import type { IndexDeferral } from './sqlite-load.js';
import { repeated, replaceRows } from './sqlite-replace.js';

/** Rows per page of an export (~1 ms of SQLite work), and between two yields to the event loop of a merge. */
const PAGE = 1000;

const selectSql = (table: TableDef): string =>
  `SELECT ${table.columns.map((c) => quoteIdent(c.name)).join(', ')} FROM ${quoteIdent(table.name)}`;

/**
 * Streams a table in primary key order, in keyset pages of PAGE rows (`id > last ORDER BY id LIMIT n`).
 * Each page is one statement read to its end at once, so its read transaction ends before the
 * rows are handed on: a slow consumer never keeps a snapshot open on the reader connection
 * (which every other request would then read, and past which no checkpoint could copy the WAL).
 * An in-memory database has a single connection, the writer's: there each page is read under
 * the writer lock, so it never sees half an upload.
 */
export async function* exportSqliteRows(
  reader: Database.Database,
  table: TableDef,
  writeLock: Turns,
  options: ExportOptions = {},
): AsyncIterable<Row[]> {
  const instants = options.datetimes === 'millis' ? table.columns.flatMap((c, i) => (c.type === 'datetime' ? [i] : [])) : [];
  const key = primaryKeyOf(table);
  const pk = quoteIdent(key.name);
  const page = reader.prepare(`${selectSql(table)} WHERE ${pk} > ? ORDER BY ${pk} LIMIT ${PAGE}`).raw();
  const read = (last: number): Row[] => guard(() => page.all(last) as Row[]);
  for (let last = Number.MIN_SAFE_INTEGER; ;) {
    const rows = reader.memory ? await writeLock.run(() => read(last)) : read(last);
    for (const row of rows) {
      for (const i of instants) if (row[i] !== null) row[i] = millisFromInstant(row[i] as string) ?? row[i]!;
    }
    if (rows.length > 0) yield rows;
    if (rows.length < PAGE) return;
    last = rows[rows.length - 1]![key.index] as number;
    await nextTick();
  }
}

/**
 * Writes pages of rows into a table in one IMMEDIATE transaction on the writer connection; the
 * caller holds the writer lock; `begin` opens the transaction (BEGIN IMMEDIATE). `replace`
 * empties the table in slices and bulk-inserts (see replaceRows), `merge` upserts by id row by
 * row (the row triggers keep hire_counts exact). A repeated id is BACKUP_INVALID; any error rolls back.
 */
export async function importSqliteRows(
  db: Database.Database,
  table: TableDef,
  pages: AsyncIterable<readonly Row[]>,
  mode: 'replace' | 'merge',
  begin: () => void | Promise<void> = () => {
    db.exec('BEGIN IMMEDIATE');
  },
  deferral?: IndexDeferral,
  offThread = false,
): Promise<number> {
  try {
    await begin();
  } catch (error) {
    throw mapSqliteError(error);
  }
  try {
    if (mode === 'replace') return await replaceRows(db, table, pages, deferral, offThread);
    const n = await mergeRows(db, table, pages);
    db.exec('COMMIT');
    return n;
  } catch (error) {
    if (db.inTransaction) db.exec('ROLLBACK');
    throw mapSqliteError(error);
  }
}

/** Upserts by id, refusing an id the file holds twice (a temporary set of the ids seen). */
async function mergeRows(db: Database.Database, table: TableDef, pages: AsyncIterable<readonly Row[]>): Promise<number> {
  const target = quoteIdent(table.name);
  const names = table.columns.map((c) => quoteIdent(c.name));
  const key = primaryKeyOf(table);
  const updates = names.filter((_n, i) => i !== key.index).map((n) => `${n} = excluded.${n}`);
  db.exec('CREATE TEMP TABLE restore_ids (id INTEGER PRIMARY KEY)');
  const insert = db.prepare(
    `INSERT INTO ${target} (${names.join(', ')}) VALUES (${names.map(() => '?').join(', ')}) ON CONFLICT (${quoteIdent(key.name)}) DO UPDATE SET ${updates.join(', ')}`,
  );
  const seen = db.prepare('INSERT INTO temp.restore_ids (id) VALUES (?) ON CONFLICT DO NOTHING');
  let n = 0;
  for await (const page of pages) {
    for (const row of page) {
      n++;
      const id = row[key.index] ?? null;
      if (seen.run(id).changes === 0) throw repeated(key.name, id, n);
      insert.run(row);
      if (n % PAGE === 0) await nextTick();
    }
  }
  db.exec('DROP TABLE temp.restore_ids');
  return n;
}

function guard<T>(fn: () => T): T {
  try {
    return fn();
  } catch (error) {
    throw mapSqliteError(error);
  }
}
