/**
 * The databases every integration suite runs against, Kysely-style: one suite, looped over
 * backends. SQLite always; PostgreSQL through TEST_DATABASE_URL (see postgres.ts).
 */
import type { Dialect } from '../../src/store/store.js';
import { postgresBackend } from './postgres.js';

export interface TestDatabase {
  url: string;
  /** Drops what `create` made (a PostgreSQL schema, a SQLite file). */
  drop(): Promise<void>;
}

export interface Backend {
  name: Dialect;
  /** False when the database cannot be reached here (PostgreSQL outside CI): suites skip it. */
  available: boolean;
  /** A fresh, empty database of its own. */
  create(): Promise<TestDatabase>;
}

export const sqliteBackend: Backend = {
  name: 'sqlite',
  available: true,
  create: async () => ({ url: 'sqlite::memory:', drop: async () => undefined }),
};

/** Every backend suites loop over (PostgreSQL: see postgres.ts). */
export const BACKENDS: Backend[] = [sqliteBackend, postgresBackend];
