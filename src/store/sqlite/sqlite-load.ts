import type Database from 'better-sqlite3';
import type { TableDef } from '../../tables.js';
import { quoteIdent } from '../ddl.js';
import type { LoadOptions, LoadOutcome, LoadSession, Rejection, StagedRow, UploadRecord } from '../store.js';
import { mapSqliteError } from './errors.js';
import { HireCountBuffer } from './hire-count-buffer.js';
import { insertUploadLog } from './sqlite-upload-log.js';

/** Rows inserted between two turns of the event loop (~2-5 ms of SQLite work). */
const ROWS_PER_TURN = 256;
const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * One upload's transaction on the writer connection. Each chunk is inserted synchronously with
 * prepared statements (a chunk blocks the event loop for a few milliseconds only); a duplicate
 * id is detected per row by `ON CONFLICT DO NOTHING` reporting no change.
 */
export class SqliteLoadSession implements LoadSession {
  private readonly insert: Database.Statement;
  private readonly update: Database.Statement | undefined;
  private readonly referenceChecks: { index: number; name: string; stmt: Database.Statement }[];
  /** hired_employees only: the load counts its own hires instead of the per-row trigger. */
  private readonly counts: HireCountBuffer | undefined;
  private done = false;

  constructor(
    private readonly db: Database.Database,
    table: TableDef,
    private readonly options: LoadOptions,
    private readonly release: () => void,
  ) {
    const names = table.columns.map((c) => quoteIdent(c.name));
    const target = quoteIdent(table.name);
    this.insert = db.prepare(
      `INSERT INTO ${target} (${names.join(', ')}) VALUES (${names.map(() => '?').join(', ')}) ON CONFLICT (id) DO NOTHING`,
    );
    this.update =
      options.onConflict === 'update'
        ? db.prepare(
            `UPDATE ${target} SET ${names
              .slice(1)
              .map((n) => `${n} = ?`)
              .join(', ')} WHERE id = ?`,
          )
        : undefined;
    this.referenceChecks = options.checkReferences
      ? table.columns.flatMap((c, index) =>
          c.references === undefined
            ? []
            : [{ index, name: c.name, stmt: db.prepare(`SELECT 1 FROM ${quoteIdent(c.references)} WHERE id = ?`).pluck() }],
        )
      : [];
    db.exec('BEGIN IMMEDIATE');
    try {
      this.counts = table.name === 'hired_employees' ? hireCountBuffer(db, table) : undefined;
    } catch (error) {
      db.exec('ROLLBACK');
      throw error;
    }
  }

  async write(rows: readonly StagedRow[]): Promise<LoadOutcome> {
    const outcome: LoadOutcome = { inserted: 0, updated: 0, incomplete: 0, rejected: [] };
    try {
      let sinceTurn = 0;
      for (const row of rows) {
        // better-sqlite3 is synchronous: give other requests a turn every few milliseconds of
        // inserts, whatever the batch size. (Node reads up to 32 socket buffers per poll and runs
        // this loop for each, so without it a fast client stalls the event loop for seconds.)
        if (++sinceTurn > ROWS_PER_TURN) {
          await nextTurn();
          sinceTurn = 0;
        }
        const missing = this.missingReference(row);
        if (missing !== undefined) {
          outcome.rejected.push({ line: row.line, raw: row.raw, reason: missing });
        } else if (this.insert.run(row.values).changes === 1) {
          if (this.counts?.count(row.values)) await this.counts.flush();
          outcome.inserted++;
          if (row.incomplete) outcome.incomplete++;
        } else if (this.update !== undefined) {
          // The update trigger moves the stored row's count: it must find it in hire_counts.
          if (this.counts !== undefined && this.counts.size > 0) await this.counts.flush();
          this.update.run(...row.values.slice(1), row.values[0]);
          outcome.updated++;
          if (row.incomplete) outcome.incomplete++;
        } else {
          outcome.rejected.push({ line: row.line, raw: row.raw, reason: `duplicate id ${String(row.values[0])}` });
        }
      }
    } catch (error) {
      throw mapSqliteError(error);
    }
    return outcome;
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

function hireCountBuffer(db: Database.Database, table: TableDef): HireCountBuffer {
  const at = (name: string): number => table.columns.findIndex((c) => c.name === name);
  return new HireCountBuffer(db, { datetime: at('datetime'), department: at('department_id'), job: at('job_id') });
}
