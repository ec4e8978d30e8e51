import type { ColumnType, TableDef, TableName } from '../tables.js';
import type { Dialect } from './store.js';

/** Each dictionary type's SQL type per dialect, as the migrations create the columns. */
export const SQL_TYPES: Readonly<Record<Dialect, Readonly<Record<ColumnType, string>>>> = {
  sqlite: { integer: 'INTEGER', text: 'TEXT', datetime: 'TEXT' },
  postgres: { integer: 'BIGINT', text: 'TEXT', datetime: 'TIMESTAMPTZ' },
};

export const quoteIdent = (name: string): string => `"${name.replaceAll('"', '""')}"`;

/**
 * Each table's secondary indexes (column lists), each here with the query that needs it. None
 * today: every query on the three tables goes by id, the primary key (uploads' duplicate and
 * reference checks, batches, restores, keyset-paged exports), and the reports read hire_counts
 * by its primary key. hired_employees had three (instant, department, job) from migration 001
 * that nothing read; migration 008 dropped them. test/store/indexes.test.ts checks those plans.
 * A migration creates an index declared here; SqliteStore.migrate builds it again when a crash
 * came between a big load's commit and the load's rebuild of the indexes it dropped.
 */
export const SECONDARY_INDEXES: Readonly<Record<TableName, readonly (readonly string[])[]>> = {
  departments: [],
  jobs: [],
  hired_employees: [],
};

const indexName = (table: string, columns: readonly string[]): string => `${table}_${columns.join('_')}_idx`;

/** CREATE INDEX statements of a table's declared secondary indexes. */
export function createIndexesSql(table: TableDef): string[] {
  return SECONDARY_INDEXES[table.name].map(
    (columns) =>
      `CREATE INDEX ${quoteIdent(indexName(table.name, columns))} ON ${quoteIdent(table.name)} (${columns.map(quoteIdent).join(', ')})`,
  );
}
