import type { ColumnType, TableDef } from '../tables.js';
import type { Dialect } from './store.js';

/** Each dictionary type's SQL type per dialect, as the migrations create the columns. */
export const SQL_TYPES: Readonly<Record<Dialect, Readonly<Record<ColumnType, string>>>> = {
  sqlite: { integer: 'INTEGER', text: 'TEXT', datetime: 'TEXT' },
  postgres: { integer: 'BIGINT', text: 'TEXT', datetime: 'TIMESTAMPTZ' },
};

export const quoteIdent = (name: string): string => `"${name.replaceAll('"', '""')}"`;

/** Indexes on what the reports filter and join on: the instant and every reference. */
export function createIndexesSql(table: TableDef): string[] {
  return table.columns
    .filter((c) => c.type === 'datetime' || c.references !== undefined)
    .map((c) => `CREATE INDEX ${quoteIdent(`${table.name}_${c.name}_idx`)} ON ${quoteIdent(table.name)} (${quoteIdent(c.name)})`);
}
