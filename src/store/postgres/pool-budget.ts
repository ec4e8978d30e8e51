import type { PoolClient } from 'pg';
import { busy } from '../write-turns.js';

/** SQLSTATE lock_not_available: lock_timeout ran out. */
const LOCK_NOT_AVAILABLE = '55P03';

/** How one pool of PG_POOL_MAX connections is shared between kinds of work. */
export interface PoolBudget {
  /** Connections only short reads (health, reports, tables, upload logs) can ever use. */
  reserved: number;
  /** Writes of every kind (uploads, restores, batches, resets, upload logs) at once. */
  writes: number;
  /** Of those, uploads and restores, which hold theirs while a body arrives. */
  loads: number;
  /** Export pages (backups, rejects.csv) read at once; each holds its connection for one page. */
  pages: number;
}

/**
 * The rule (README, "PostgreSQL: one variable"): a quarter of the pool, at least two, is kept for
 * short reads; writes share the rest, uploads and restores all of it but one (a batch always has
 * a slot beside long loads); export pages take at most all but one of the reserved share, so a
 * health check always finds a connection. A pool of 2 keeps 1; a pool of 1 shares its one.
 */
export function poolBudget(poolMax: number): PoolBudget {
  const reserved = poolMax <= 1 ? 0 : poolMax === 2 ? 1 : Math.max(2, Math.ceil(poolMax / 4));
  const writes = Math.max(1, poolMax - reserved);
  return { reserved, writes, loads: Math.max(1, writes - 1), pages: Math.max(1, reserved - 1) };
}

/**
 * Takes a table lock, waiting until `deadline` at most (`SET LOCAL lock_timeout`): beyond it,
 * 503 BUSY and the caller rolls back, having done nothing. The lock timeout is then turned off
 * again for the rest of the transaction (a long load's later statements must not fail on it).
 */
export async function lockWithin(client: PoolClient, lockSql: string, deadline: number): Promise<void> {
  const ms = Math.max(1, Math.round(deadline - Date.now()));
  await client.query(`SET LOCAL lock_timeout = '${ms}ms'`);
  try {
    await client.query(lockSql);
  } catch (error) {
    if ((error as { code?: unknown }).code === LOCK_NOT_AVAILABLE) throw busy('the table lock', ms);
    throw error;
  }
  await client.query('SET LOCAL lock_timeout = 0');
}

/** One try at an exclusive lock: below deadlock_timeout (1 s), and the longest a reader queues behind it. */
export const EXCLUSIVE_LOCK_TRY_MS = 100;

/**
 * Runs a statement that needs an exclusive lock readers may hold (LOCK … ACCESS EXCLUSIVE, DROP
 * TABLE) in tries of EXCLUSIVE_LOCK_TRY_MS, each in a savepoint rolled back when it times out,
 * with a short random pause between: no reader ever waits long behind it, and a reader that locks
 * tables in another order cannot deadlock with it. Resolves with undefined once the statement
 * ran, or with the last lock timeout's error when `until` passed first (the transaction still
 * usable). lock_timeout is off again afterwards.
 */
export async function exclusiveInTries(client: PoolClient, sql: string, until: number): Promise<unknown> {
  await client.query(`SET LOCAL lock_timeout = '${EXCLUSIVE_LOCK_TRY_MS}ms'`);
  let failure: unknown;
  for (;;) {
    await client.query('SAVEPOINT exclusive_try');
    try {
      await client.query(sql);
      failure = undefined;
      break;
    } catch (error) {
      if ((error as { code?: unknown }).code !== LOCK_NOT_AVAILABLE) throw error;
      await client.query('ROLLBACK TO SAVEPOINT exclusive_try');
      failure = error;
      if (Date.now() >= until) break;
      await new Promise((resolve) => setTimeout(resolve, 5 + Math.random() * 20));
    }
  }
  await client.query('SET LOCAL lock_timeout = 0');
  return failure;
}
