import type { Config } from '../config.js';
import { SqliteStore } from './sqlite/sqlite-store.js';
import type { Store } from './store.js';

/**
 * Opens the store a DATABASE_URL names: `sqlite:PATH`, `sqlite::memory:`, a bare path, or
 * `postgres://…` / `postgresql://…`.
 */
export async function openStore(
  config: Pick<Config, 'DATABASE_URL' | 'PG_POOL_MAX'> &
    Partial<Pick<Config, 'SQLITE_BUSY_TIMEOUT_MS' | 'WRITE_QUEUE_TIMEOUT_MS' | 'SQLITE_LOAD_THREAD'>>,
): Promise<Store> {
  const url = config.DATABASE_URL;
  if (/^postgres(ql)?:\/\//.test(url)) {
    const { PostgresStore } = await import('./postgres/postgres-store.js');
    return new PostgresStore({ connectionString: url, poolMax: config.PG_POOL_MAX, writeQueueTimeoutMs: config.WRITE_QUEUE_TIMEOUT_MS });
  }
  const path = url.startsWith('sqlite:') ? url.slice('sqlite:'.length) : url;
  return new SqliteStore({
    path: path === '' ? ':memory:' : path,
    busyTimeoutMs: config.SQLITE_BUSY_TIMEOUT_MS,
    writeQueueTimeoutMs: config.WRITE_QUEUE_TIMEOUT_MS,
    loadThread: config.SQLITE_LOAD_THREAD,
  });
}
