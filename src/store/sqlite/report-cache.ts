import type Database from 'better-sqlite3';
import type { ReportRow } from '../store.js';

/** Distinct (query, parameters) kept at most; years × reports is a few hundred. */
const MAX_ENTRIES = 256;

/**
 * Answers of read-only queries on the reader connection, kept until the database changes.
 * `PRAGMA data_version` on a connection moves whenever another connection (the writer, another
 * process) commits, so a cached answer is exactly what the query would return now; the first
 * request after a write runs the query again. Only for a reader separate from the writer (a
 * connection's own commits do not move its data_version).
 *
 * Cached rows are shared between requests: they are frozen.
 */
export class ReportCache {
  private readonly entries = new Map<string, readonly ReportRow[]>();
  private readonly version: Database.Statement;
  private seen: unknown = undefined;

  constructor(private readonly reader: Database.Database) {
    this.version = reader.prepare('PRAGMA data_version').pluck();
  }

  query(sql: string, params: readonly (string | number)[]): ReportRow[] {
    const version = this.version.get();
    if (version !== this.seen) {
      this.entries.clear();
      this.seen = version;
    }
    const key = `${params.join('\u0000')}\u0001${sql}`;
    let rows = this.entries.get(key);
    if (rows === undefined) {
      rows = Object.freeze((this.reader.prepare(sql).all(...params) as ReportRow[]).map((row) => Object.freeze(row)));
      if (this.entries.size >= MAX_ENTRIES) this.entries.clear();
      this.entries.set(key, rows);
    }
    return rows as ReportRow[];
  }
}
