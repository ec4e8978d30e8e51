import { setImmediate as nextTurn } from 'node:timers/promises';
import type Database from 'better-sqlite3';
import { primaryKeyOf, TABLES, type PrimaryKey, type Row, type TableDef } from '../../tables.js';
import { quoteIdent } from '../ddl.js';
import { objectsOf } from './sqlite-empty.js';
import type { LoadOptions, LoadOutcome, LoadSession, Rejection, StagedRow, UploadRecord } from '../store.js';
import { mapSqliteError } from './errors.js';
import { hireCountColumns } from '../hire-count-key.js';
import { HireCountBuffer } from './hire-count-buffer.js';
import { insertUploadLog } from './sqlite-upload-log.js';

/**
 * Rows inserted between two turns of the event loop (~15-30 ms of SQLite work) when a chunk is
 * that big (batch_size up to 100,000). Smaller chunks are written in one go: the ingest yields
 * between pieces of the body, and rows kept across turns get promoted to the old generation
 * (measured: 256 rows per turn grew the heap 1.2 MB/s; one turn per 1,000-row chunk 0.25 MB/s).
 */
const ROWS_PER_TURN = 2048;
/** Rows per multi-row INSERT: one statement call instead of 64 (measured ~18% less insert time). */
const ROWS_PER_STATEMENT = 64;

/**
 * Rows a load inserts with the table's secondary indexes before it may drop them and build them
 * again at the end (see `IndexDeferral`); also never before it has inserted as many rows as the
 * table held, so a small load into a big table keeps updating them in place.
 */
export const DEFER_INDEXES_AFTER = 50_000;

/**
 * How a load gets its dropped indexes built again once it has committed (off the event loop).
 * Inserting into an index with random keys (the hire instants) costs a page miss per row once
 * the index outgrows the page cache: measured on 3M rows, 22.4 s with the three indexes, 4.7 s
 * without them plus 4.7 s to build them by sorting.
 */
export interface IndexDeferral {
  build(statements: readonly string[]): Promise<void>;
}

/**
 * Builds a load's dropped indexes again after its commit, before the writer turn is given back:
 * by `deferral` (a worker thread), or on `db` when that fails (the event loop then waits).
 * Should both fail (a full disk), the rows stay committed and the next start builds the indexes
 * (SqliteStore.migrate).
 */
export async function rebuildIndexes(db: Database.Database, deferral: IndexDeferral, statements: readonly string[]): Promise<void> {
  if (statements.length === 0) return;
  try {
    await deferral.build(statements);
  } catch {
    try {
      for (const sql of statements) db.exec(sql.replace(/^CREATE INDEX /i, 'CREATE INDEX IF NOT EXISTS '));
    } catch {
      // Left to the next start.
    }
  }
}

/**
 * One upload's transaction on the writer connection. Each chunk is inserted synchronously with
 * prepared statements, 64 rows per INSERT, giving the event loop a turn every 256 rows. A
 * duplicate id is detected by `ON CONFLICT DO NOTHING`: the row is missing from the statement's
 * `RETURNING id` (within one statement, the first row with an id is the one inserted, as row by
 * row), and then rejected or, with on_conflict=update, updated in file order.
 */
export class SqliteLoadSession implements LoadSession {
  private readonly insert: Database.Statement;
  /** The same INSERT for ROWS_PER_STATEMENT rows at once, returning the ids it inserted. */
  private readonly insertMany: Database.Statement;
  private readonly update: Database.Statement | undefined;
  private readonly key: PrimaryKey;
  private readonly referenceChecks: { index: number; name: string; stmt: Database.Statement }[];
  /** hired_employees only: the load counts its own hires instead of the per-row trigger. */
  private readonly counts: HireCountBuffer | undefined;
  private done = false;
  /** Rows inserted so far by this load. */
  private loaded = 0;
  /** The table's secondary indexes, while they may still be dropped; and the row count that triggers it. */
  private deferrable: { name: string; sql: string }[] = [];
  private deferAt = Number.POSITIVE_INFINITY;
  /** CREATE INDEX statements of the indexes this load dropped, to run after its commit. */
  private dropped: string[] = [];

  constructor(
    private readonly db: Database.Database,
    table: TableDef,
    private readonly options: LoadOptions,
    private readonly release: () => void,
    private readonly deferral?: IndexDeferral,
  ) {
    const names = table.columns.map((c) => quoteIdent(c.name));
    const target = quoteIdent(table.name);
    const tuple = `(${names.map(() => '?').join(', ')})`;
    this.key = primaryKeyOf(table);
    const pk = quoteIdent(this.key.name);
    this.insert = db.prepare(`INSERT INTO ${target} (${names.join(', ')}) VALUES ${tuple} ON CONFLICT (${pk}) DO NOTHING`);
    this.insertMany = db
      .prepare(
        `INSERT INTO ${target} (${names.join(', ')}) VALUES ${Array(ROWS_PER_STATEMENT).fill(tuple).join(', ')} ON CONFLICT (${pk}) DO NOTHING RETURNING ${pk}`,
      )
      .pluck();
    // The other columns in the row's order, then the key: see conflict().
    this.update =
      options.onConflict === 'update'
        ? db.prepare(
            `UPDATE ${target} SET ${names
              .filter((_n, i) => i !== this.key.index)
              .map((n) => `${n} = ?`)
              .join(', ')} WHERE ${pk} = ?`,
          )
        : undefined;
    this.referenceChecks = options.checkReferences
      ? table.columns.flatMap((c, index) => {
          if (c.references === undefined) return [];
          const referenced = quoteIdent(primaryKeyOf(TABLES[c.references]).name);
          return [{ index, name: c.name, stmt: db.prepare(`SELECT 1 FROM ${quoteIdent(c.references)} WHERE ${referenced} = ?`).pluck() }];
        })
      : [];
    db.exec('BEGIN IMMEDIATE');
    try {
      this.counts = table.name === 'hired_employees' ? new HireCountBuffer(db, hireCountColumns(table)) : undefined;
      if (deferral !== undefined) {
        this.deferrable = objectsOf(db, 'index', table.name);
        const stored = db.prepare(`SELECT COALESCE(MAX(rowid), 0) FROM ${target}`).pluck().get() as number;
        this.deferAt = Math.max(DEFER_INDEXES_AFTER, stored);
      }
    } catch (error) {
      db.exec('ROLLBACK');
      throw error;
    }
  }

  async write(rows: readonly StagedRow[]): Promise<LoadOutcome> {
    const outcome: LoadOutcome = { inserted: 0, updated: 0, incomplete: 0, rejected: [] };
    try {
      // better-sqlite3 is synchronous: give other requests a turn within big chunks too.
      for (let start = 0; start < rows.length; start += ROWS_PER_TURN) {
        if (start > 0) await nextTurn();
        await this.writeSlice(rows, start, Math.min(rows.length, start + ROWS_PER_TURN), outcome);
      }
      this.loaded += outcome.inserted;
      if (this.deferrable.length > 0 && this.loaded >= this.deferAt) this.dropIndexes();
    } catch (error) {
      throw mapSqliteError(error);
    }
    return outcome;
  }

  /** Rows [from, to) of a chunk, in file order, ROWS_PER_STATEMENT at a time. */
  private async writeSlice(rows: readonly StagedRow[], from: number, to: number, outcome: LoadOutcome): Promise<void> {
    const accepted: StagedRow[] = [];
    for (let i = from; i < to; i++) {
      const row = rows[i]!;
      const missing = this.missingReference(row);
      if (missing === undefined) accepted.push(row);
      else outcome.rejected.push({ line: row.line, raw: row.raw, reason: missing });
    }
    let next = 0;
    for (; next + ROWS_PER_STATEMENT <= accepted.length; next += ROWS_PER_STATEMENT) {
      // Fresh arrays each time: one kept on the session would hold the last rows' strings, and
      // with them whole 64 KB pieces of the body, past the young generation (measured: +50 MB).
      const values: Row[number][] = [];
      for (let k = next; k < next + ROWS_PER_STATEMENT; k++) for (const v of accepted[k]!.values) values.push(v);
      const inserted = new Set(this.insertMany.all(values) as number[]);
      for (let k = next; k < next + ROWS_PER_STATEMENT; k++) {
        const row = accepted[k]!;
        // The first row with an id took it; a later one in the same statement is a duplicate.
        if (!inserted.delete(row.values[this.key.index] as number)) await this.conflict(row, outcome);
        else if (this.inserted(row, outcome)) await this.counts!.flush();
      }
    }
    for (; next < accepted.length; next++) {
      const row = accepted[next]!;
      if (this.insert.run(row.values).changes !== 1) await this.conflict(row, outcome);
      else if (this.inserted(row, outcome)) await this.counts!.flush();
    }
  }

  /** Drops the table's secondary indexes inside the load's transaction (a rollback restores them). */
  private dropIndexes(): void {
    for (const index of this.deferrable) {
      this.db.exec(`DROP INDEX ${quoteIdent(index.name)}`);
      this.dropped.push(index.sql);
    }
    this.deferrable = [];
  }

  private async buildDropped(): Promise<void> {
    const statements = this.dropped;
    this.dropped = [];
    await rebuildIndexes(this.db, this.deferral!, statements);
  }

  /** Tallies an inserted row; true when the hire counts should be flushed now. */
  private inserted(row: StagedRow, outcome: LoadOutcome): boolean {
    outcome.inserted++;
    if (row.incomplete) outcome.incomplete++;
    return this.counts?.count(row.values) ?? false;
  }

  /** A row whose id is already stored: updated (upsert) or rejected. */
  private async conflict(row: StagedRow, outcome: LoadOutcome): Promise<void> {
    if (this.update === undefined) {
      outcome.rejected.push({ line: row.line, raw: row.raw, reason: `duplicate ${this.key.name} ${String(row.values[this.key.index])}` });
      return;
    }
    // The update trigger moves the stored row's count: it must find it in hire_counts.
    if (this.counts !== undefined && this.counts.size > 0) await this.counts.flush();
    const { index } = this.key;
    this.update.run(...row.values.filter((_v, i) => i !== index), row.values[index]);
    outcome.updated++;
    if (row.incomplete) outcome.incomplete++;
  }

  private missingReference(row: StagedRow): string | undefined {
    for (const check of this.referenceChecks) {
      const value = row.values[check.index];
      if (value !== null && check.stmt.get(value) === undefined) return `${check.name} ${String(value)} does not exist`;
    }
    return undefined;
  }

  async finish(): Promise<LoadOutcome> {
    try {
      await this.counts?.close();
    } catch (error) {
      throw mapSqliteError(error);
    }
    return { inserted: 0, updated: 0, incomplete: 0, rejected: [] };
  }

  async commit(record: UploadRecord, rejects: AsyncIterable<Rejection>): Promise<void> {
    try {
      await this.counts?.close();
      await insertUploadLog(this.db, record, rejects);
      this.db.exec('COMMIT');
      await this.buildDropped();
    } catch (error) {
      throw mapSqliteError(error);
    } finally {
      this.end();
    }
  }

  async rollback(): Promise<void> {
    try {
      if (this.db.inTransaction) this.db.exec('ROLLBACK');
    } finally {
      this.end();
    }
  }

  private end(): void {
    if (this.done) return;
    this.done = true;
    if (this.db.inTransaction) this.db.exec('ROLLBACK');
    this.release();
  }
}
