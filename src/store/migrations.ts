import { readFileSync, readdirSync } from 'node:fs';
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
 * Every migration for a dialect, in order: the numbered `.sql` files in
 * `store/<dialect>/migrations/`. Each is frozen once released, version 1 (the tables) included:
 * a change to the data dictionary (src/tables.ts) comes with a new migration, and
 * test/store/schema.test.ts checks that the migrated schema is what the dictionary declares.
 */
export function migrationsFor(dialect: Dialect): Migration[] {
  const dir = new URL(`./${dialect}/migrations/`, import.meta.url);
  return readdirSync(dir)
    .filter((f) => /^\d{3}_.+\.sql$/.test(f))
    .sort()
    .map((file) => ({
      version: Number(file.slice(0, 3)),
      name: file.slice(4, -4).replaceAll('_', ' '),
      statements: splitSql(readFileSync(new URL(file, dir), 'utf8')),
    }));
}
