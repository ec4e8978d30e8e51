import type { Store } from '../store.js';

export interface PostgresStoreOptions {
  connectionString: string;
  poolMax: number;
}

// Placeholder until the PostgreSQL backend lands (issue 3).
export const PostgresStore = class {
  constructor(_options: PostgresStoreOptions) {
    throw new Error('PostgreSQL is not supported yet');
  }
} as unknown as new (options: PostgresStoreOptions) => Store;
