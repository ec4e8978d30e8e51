import type { ColumnType, TableDef } from '../tables.js';
import type { Dialect } from './store.js';

const TYPES: Record<Dialect, Record<ColumnType, string>> = {
  sqlite: { integer: 'INTEGER', text: 'TEXT', datetime: 'TEXT' },
  postgres: { integer: 'BIGINT', text: 'TEXT', datetime: 'TIMESTAMPTZ' },
};

export const quoteIdent = (name: string): string => `"${name.replaceAll('"', '""')}"`;

/** CREATE TABLE for one table of the dictionary, in the dialect's types. */
export function createTableSql(table: TableDef, dialect: Dialect): string {
  const columns = table.columns.map((c) =>
    c.primaryKey ? `${quoteIdent(c.name)} ${TYPES[dialect][c.type]} PRIMARY KEY` : `${quoteIdent(c.name)} ${TYPES[dialect][c.type]}`,
  );
  return `CREATE TABLE ${quoteIdent(table.name)} (\n  ${columns.join(',\n  ')}\n)`;
}

/** Indexes on what the reports filter and join on: the instant and every reference. */
export function createIndexesSql(table: TableDef): string[] {
  return table.columns
    .filter((c) => c.type === 'datetime' || c.references !== undefined)
    .map((c) => `CREATE INDEX ${quoteIdent(`${table.name}_${c.name}_idx`)} ON ${quoteIdent(table.name)} (${quoteIdent(c.name)})`);
}
