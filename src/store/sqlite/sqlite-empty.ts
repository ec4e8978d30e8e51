import { setImmediate as nextTurn } from 'node:timers/promises';
import type Database from 'better-sqlite3';
import { quoteIdent } from '../ddl.js';

/**
 * Rows deleted per statement while a table is emptied: ~10 ms of SQLite work without the table's
 * secondary indexes and triggers, so the event loop gets a turn that often.
 */
const SLICE = 20_000;

export interface SchemaObject {
  name: string;
  sql: string;
}

/** A table's indexes or triggers that have SQL (not the primary key's implicit index), by name. */
export const objectsOf = (db: Database.Database, type: 'index' | 'trigger', table: string): SchemaObject[] =>
  db
    .prepare('SELECT name, sql FROM sqlite_master WHERE type = ? AND tbl_name = ? AND sql IS NOT NULL ORDER BY name')
    .all(type, table) as SchemaObject[];

/**
 * Empties a table inside the caller's write transaction without one long synchronous DELETE
 * (a million rows: 12–20 s with the per-row hire-count trigger, the event loop stopped).
 *
 * The table's secondary indexes are dropped first (a delete then touches one b-tree, not four),
 * and so are its DELETE triggers: the caller empties what they maintain (hire_counts) itself.
 * The rows then go in slices of SLICE, a turn of the event loop between two. The triggers are
 * created again before this returns; the indexes' CREATE statements are returned, for the caller
 * to run once the table is filled again (on an empty table, at once). DDL is transactional in
 * SQLite: other connections never see the table without them, and a rollback restores them.
 * `atOnce` (off the event loop: the load worker): one DELETE without WHERE, which SQLite runs by
 * freeing the table's pages (its truncate optimization, no delete trigger left) instead of
 * deleting row by row.
 */
export async function emptyInSlices(db: Database.Database, table: string, atOnce = false): Promise<string[]> {
  const target = quoteIdent(table);
  const indexes = objectsOf(db, 'index', table);
  const triggers = objectsOf(db, 'trigger', table).filter((t) => /\bAFTER\s+DELETE\b/i.test(t.sql));
  for (const index of indexes) db.exec(`DROP INDEX ${quoteIdent(index.name)}`);
  for (const trigger of triggers) db.exec(`DROP TRIGGER ${quoteIdent(trigger.name)}`);
  if (atOnce) db.exec(`DELETE FROM ${target}`);
  else {
    const slice = db.prepare(`DELETE FROM ${target} WHERE rowid IN (SELECT rowid FROM ${target} LIMIT ${SLICE})`);
    while (slice.run().changes > 0) await nextTurn();
  }
  for (const trigger of triggers) db.exec(trigger.sql);
  return indexes.map((index) => index.sql);
}
