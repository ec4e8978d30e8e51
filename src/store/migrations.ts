import { readFileSync, readdirSync } from 'node:fs';
import { TABLES, TABLE_NAMES } from '../tables.js';
import { createIndexesSql, createTableSql } from './ddl.js';
import type { Dialect } from './store.js';

export interface Migration {
  version: number;
  name: string;
  statements: string[];
}

/** Splits a .sql file into statements; `-- split` lines separate bodies that contain `;` (triggers). */
const splitSql = (text: string): string[] =>
  text
    .split(/^-- split$/m)
    .flatMap((part) => (part.includes('BEGIN') || part.includes('$$') ? [part] : part.split(/;\s*$/m)))
    .map((s) => s.trim())
    .filter((s) => s.replace(/--.*$/gm, '').trim() !== '');

/**
 * Every migration for a dialect, in order. Version 1 is derived from the data dictionary;
 * later ones are numbered `.sql` files in `store/<dialect>/migrations/`.
 */
export function migrationsFor(dialect: Dialect): Migration[] {
  const initial: Migration = {
    version: 1,
    name: 'tables from the data dictionary',
    statements: TABLE_NAMES.flatMap((name) => [createTableSql(TABLES[name], dialect), ...createIndexesSql(TABLES[name])]),
  };
  const dir = new URL(`./${dialect}/migrations/`, import.meta.url);
  const files = readdirSync(dir)
    .filter((f) => /^\d{3}_.+\.sql$/.test(f))
    .sort();
  const fromFiles = files.map((file) => ({
    version: Number(file.slice(0, 3)),
    name: file.slice(4, -4).replaceAll('_', ' '),
    statements: splitSql(readFileSync(new URL(file, dir), 'utf8')),
  }));
  return [initial, ...fromFiles];
}
