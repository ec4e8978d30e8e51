import pg from 'pg';
import { AppError } from '../../errors.js';
import { primaryKeyOf, TABLE_NAMES, type Row, type TableDef } from '../../tables.js';
import { quoteIdent, SQL_TYPES } from '../ddl.js';
import { migrationsFor } from '../migrations.js';
import type {
  AvroPage,
  ExportOptions,
  LoadOptions,
  LoadSession,
  RecordBlock,
  Rejection,
  ReportRow,
  Store,
  TableCount,
  UploadRecord,
  WriteWait,
} from '../store.js';
import { throwIfGone, Turns, type TurnWait } from '../write-turns.js';
import { isConnectionLoss, mapPgError } from './errors.js';
import { exportPostgresAvro, exportPostgresRows } from './postgres-backup.js';
import { importPostgresRows, type RestoreInput } from './postgres-restore.js';
import { APPLY_EVERY, PostgresLoadSession, type HeldClient } from './postgres-load.js';
import { completePostgresKey, PostgresIdempotency } from './postgres-idempotency.js';
import { PostgresImportJobStore } from './postgres-import-jobs.js';
import { insertUploadLog, readRejects, readUpload } from './postgres-upload-log.js';
import { exclusiveInTries, lockWithin, poolBudget, type PoolBudget } from './pool-budget.js';

export interface PostgresStoreOptions {
  connectionString: string;
  poolMax: number;
  /** Milliseconds to wait for a connection (from the pool or the server) before answering 503. */
  connectTimeoutMs?: number;
  /** Staged rows an upload applies at a time (default APPLY_EVERY); small values are for tests. */
  applyEvery?: number;
  /** Milliseconds an upload into an empty table waits for readers of the old one at its swap (default 10 s); for tests. */
  swapWaitMs?: number;
  /** Milliseconds a write waits for its slot and its table lock before 503 BUSY (default 30 s). */
  writeQueueTimeoutMs?: number;
}

/** Key of the advisory lock every instance takes to migrate: one migrates, the others wait and see. */
const MIGRATION_LOCK = 0x68_72_6d_67; // "hrmg"

const INT8_OID = 20;
// Ids and counts are BIGINT; every value the service stores is within 2^53 (row rules check it).
const parseInt8 = (text: string): number => Number(text);
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID ? parseInt8 : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

/** Reset waits for readers this long (retrying its exclusive lock, pool-budget.ts) before answering 503. */
const RESET_LOCK_WAIT_MS = 10_000;

/**
 * PostgreSQL behind the store interface: a pool of connections, an upload per connection and
 * transaction (see PostgresLoadSession), writes of one table serialized by a table lock, reads
 * free. Connection failures become 503s with Retry-After; the pool replaces broken connections.
 */
export class PostgresStore implements Store {
  readonly dialect = 'postgres' as const;
  readonly pool: pg.Pool;
  readonly importJobs: PostgresImportJobStore;
  readonly idempotency: PostgresIdempotency;
  /** The last error of an idle connection (the server restarted, a network blip): logged by no one, but never a crash. */
  lastIdleError: Error | undefined;

  private readonly applyEvery: number;
  private readonly swapWaitMs: number | undefined;
  private readonly writeQueueTimeoutMs: number;
  /**
   * How the pool is shared (see pool-budget.ts): writes of every kind take one of `writes`
   * slots, uploads and restores (which hold theirs for as long as their body takes) also one of
   * `loads`, export pages one of `pages`; the rest of the pool is only ever used by short reads
   * (health, reports, tables, upload logs), which take no slot.
   */
  private readonly budget: PoolBudget;
  private readonly writes: Turns;
  private readonly loads: Turns;
  private readonly pages: Turns;

  constructor(options: PostgresStoreOptions) {
    this.applyEvery = options.applyEvery ?? APPLY_EVERY;
    this.swapWaitMs = options.swapWaitMs;
    this.writeQueueTimeoutMs = options.writeQueueTimeoutMs ?? 30_000;
    this.budget = poolBudget(options.poolMax);
    this.writes = new Turns(this.budget.writes);
    this.loads = new Turns(this.budget.loads);
    this.pages = new Turns(this.budget.pages);
    this.pool = new pg.Pool({
      connectionString: options.connectionString,
      max: options.poolMax,
      connectionTimeoutMillis: options.connectTimeoutMs ?? 10_000,
      idleTimeoutMillis: 30_000,
      application_name: 'hr-migration',
      types,
    });
    this.importJobs = new PostgresImportJobStore(this.pool);
    this.idempotency = new PostgresIdempotency(this.pool);
    this.pool.on('error', (error) => {
      this.lastIdleError = error;
    });
  }

  async migrate(): Promise<void> {
    await this.transaction(async (client) => {
      await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
      await client.query(
        'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)',
      );
      const applied = new Set(
        (await client.query<{ version: number }>('SELECT version FROM schema_migrations')).rows.map((r) => r.version),
      );
      for (const migration of migrationsFor('postgres')) {
        if (applied.has(migration.version)) continue;
        for (const statement of migration.statements) await client.query(statement);
        await client.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [
          migration.version,
          migration.name,
          new Date().toISOString(),
        ]);
      }
    });
  }

  async ping(): Promise<void> {
    await this.guard(() => this.pool.query('SELECT 1'));
  }

  async close(): Promise<void> {
    if (!this.pool.ended) await this.pool.end();
  }

  async openLoad(table: TableDef, options: LoadOptions, wait?: WriteWait): Promise<LoadSession> {
    const deadline = Date.now() + this.writeQueueTimeoutMs;
    const releaseSlot = await this.loadSlot(wait);
    try {
      const held = await this.checkout(releaseSlot);
      return await PostgresLoadSession.open(held, table, options, this.applyEvery, {
        deadline,
        signal: wait?.signal,
        swapWaitMs: this.swapWaitMs,
      });
    } catch (error) {
      releaseSlot();
      throw error;
    }
  }

  async insertRows(table: TableDef, rows: readonly Row[], wait?: WriteWait): Promise<number> {
    const target = quoteIdent(table.name);
    const names = table.columns.map((c) => quoteIdent(c.name));
    const arrays = table.columns.map((c, i) => ({
      type: `${SQL_TYPES.postgres[c.type]}[]`,
      values: rows.map((row) => row[i] ?? null),
    }));
    return this.transaction(
      async (client, deadline) => {
        // The same lock as an upload's apply: batches and uploads of a table take turns.
        await lockWithin(client, `LOCK TABLE ${target} IN SHARE ROW EXCLUSIVE MODE`, deadline);
        throwIfGone(wait?.signal);
        const key = primaryKeyOf(table);
        const pk = quoteIdent(key.name);
        const ids = rows.map((row) => row[key.index] as number);
        const stored = new Set(
          (await client.query<{ key: number }>(`SELECT ${pk} AS key FROM ${target} WHERE ${pk} = ANY($1::bigint[])`, [ids])).rows.map(
            (r) => r.key,
          ),
        );
        // As SQLite inserts them one by one: a stored id, or the second of two equal ids, is a duplicate.
        const seen = new Set<number>();
        const duplicates: number[] = [];
        for (const id of ids) {
          if (stored.has(id) || seen.has(id)) duplicates.push(id);
          seen.add(id);
        }
        if (duplicates.length > 0) {
          throw new AppError('DUPLICATE_ID', `${duplicates.length} ${key.name}(s) already exist; nothing was inserted`, {
            ids: duplicates.slice(0, 100),
          });
        }
        const result = await client.query(
          `INSERT INTO ${target} (${names.join(', ')}) SELECT * FROM unnest(${arrays.map((a, i) => `$${i + 1}::${a.type}`).join(', ')})`,
          arrays.map((a) => a.values),
        );
        // A client that went while the rows were written: rolled back, not committed.
        throwIfGone(wait?.signal);
        if (wait?.idempotency !== undefined) await completePostgresKey(client, wait.idempotency, result.rowCount ?? 0);
        return result.rowCount ?? 0;
      },
      { slot: true, wait },
    );
  }

  async saveUpload(record: UploadRecord, rejects: AsyncIterable<Rejection>): Promise<void> {
    await this.transaction((client) => insertUploadLog(client, record, rejects), { slot: true });
  }

  async getUpload(id: string): Promise<UploadRecord | undefined> {
    return this.guard(() => readUpload(this.pool, id));
  }

  async *rejects(id: string): AsyncIterable<Rejection> {
    try {
      yield* readRejects(this.pool, id, (read) => this.pages.run(read));
    } catch (error) {
      throw mapPgError(error);
    }
  }

  async countRows(): Promise<TableCount[]> {
    const counts = TABLE_NAMES.map((name) => `(SELECT count(*) FROM ${quoteIdent(name)})::int AS ${quoteIdent(name)}`);
    const { rows } = await this.guard(() => this.pool.query<Record<string, number>>(`SELECT ${counts.join(', ')}`));
    return TABLE_NAMES.map((name) => ({ name, rows: rows[0]![name]! }));
  }

  async query(sql: string, params: readonly (string | number)[]): Promise<ReportRow[]> {
    const { rows } = await this.guard(() => this.pool.query<ReportRow>(sql, [...params]));
    return rows;
  }

  /**
   * The current snapshot (xmin:xmax:in-progress ids). Two equal snapshots see exactly the same
   * committed transactions, so the same data; any commit anywhere changes it. Other databases of
   * the cluster move it too, which only costs a recomputation.
   */
  async dataVersion(): Promise<string | undefined> {
    const { rows } = await this.guard(() => this.pool.query<{ v: string }>('SELECT pg_current_snapshot()::text AS v'));
    return rows[0]?.v;
  }

  /**
   * Backup (see postgres-backup.ts): keyset pages, each a short query on a pooled connection taken
   * for that page only, one of `pages` slots (no write slot: an export could feed an import in
   * the same process). A slow client holds no connection.
   */
  exportRows(table: TableDef, options?: ExportOptions): AsyncIterable<readonly Row[]> {
    return exportPostgresRows(this.pool, table, (read) => this.pages.run(read), options);
  }

  exportAvro(table: TableDef): AsyncIterable<AvroPage> {
    return exportPostgresAvro(this.pool, table, (read) => this.pages.run(read));
  }

  /** Restore (see postgres-restore.ts): holds its connection while the file arrives, like an upload. */
  importRows(table: TableDef, pages: AsyncIterable<readonly Row[]>, mode: 'replace' | 'merge', wait?: WriteWait): Promise<number> {
    return this.restore(table, { rows: pages }, mode, wait);
  }

  /** A backup of our own layout: its records become COPY text without becoming rows (avro-copy.ts). */
  importRecords(table: TableDef, blocks: AsyncIterable<RecordBlock>, mode: 'replace' | 'merge', wait?: WriteWait): Promise<number> {
    return this.restore(table, { blocks }, mode, wait);
  }

  private async restore(table: TableDef, input: RestoreInput, mode: 'replace' | 'merge', wait?: WriteWait): Promise<number> {
    const deadline = Date.now() + this.writeQueueTimeoutMs;
    const releaseSlot = await this.loadSlot(wait);
    try {
      return await importPostgresRows(this.pool, table, input, mode, { deadline, signal: wait?.signal });
    } finally {
      releaseSlot();
    }
  }

  /** A write slot and a load slot (uploads, restores), waited for within the write-queue deadline. */
  private async loadSlot(wait?: WriteWait): Promise<() => void> {
    const deadline = Date.now() + this.writeQueueTimeoutMs;
    const releaseLoad = await this.loads.acquire(this.turnWait(deadline, wait, 'an upload slot'));
    try {
      const releaseWrite = await this.writes.acquire(this.turnWait(deadline, wait, 'a write slot'));
      return () => {
        releaseWrite();
        releaseLoad();
      };
    } catch (error) {
      releaseLoad();
      throw error;
    }
  }

  private turnWait(deadline: number, wait: WriteWait | undefined, what: string): TurnWait {
    return { timeoutMs: Math.max(1, deadline - Date.now()), signal: wait?.signal, what };
  }

  /**
   * Empties the three tables and their counts at once. Writers are waited for (their table
   * locks). The exclusive lock TRUNCATE needs is then taken with a short lock_timeout, and tried
   * again until readers let go: a reset never waits long while holding a lock, so a report that
   * locks the same tables in another order cannot deadlock with it.
   */
  async reset(wait?: WriteWait): Promise<void> {
    const writers = TABLE_NAMES.map(quoteIdent);
    const all = [...writers, quoteIdent('hire_counts')].join(', ');
    await this.transaction(
      async (client, writeDeadline) => {
        await lockWithin(client, `LOCK TABLE ${writers.join(', ')} IN SHARE ROW EXCLUSIVE MODE`, writeDeadline);
        throwIfGone(wait?.signal);
        const failure = await exclusiveInTries(client, `LOCK TABLE ${all} IN ACCESS EXCLUSIVE MODE`, Date.now() + RESET_LOCK_WAIT_MS);
        if (failure !== undefined) throw failure;
        await client.query(`TRUNCATE ${all}`);
      },
      { slot: true, wait },
    );
  }

  /** A pooled connection with an error listener for as long as it is held (node-pg emits on it between queries). */
  private async checkout(onRelease?: () => void): Promise<HeldClient> {
    const client = await this.guard(() => this.pool.connect());
    let lost: unknown;
    const onError = (error: Error): void => {
      lost = error;
    };
    client.on('error', onError);
    let released = false;
    return {
      client,
      get lost() {
        return lost;
      },
      release(error?: unknown) {
        if (released) return;
        released = true;
        client.off('error', onError);
        client.release(error === undefined ? undefined : error instanceof Error ? error : new Error(String(error)));
        onRelease?.();
      },
    };
  }

  /**
   * Runs `fn` in a transaction on one connection; rolls back on any error and maps it. A write
   * (`slot`) takes a write slot first, within the write-queue deadline, which `fn` gets for its
   * lock waits; migrations take none.
   */
  private async transaction<T>(
    fn: (client: pg.PoolClient, deadline: number) => Promise<T>,
    options: { slot: boolean; wait?: WriteWait } = { slot: false },
  ): Promise<T> {
    const deadline = Date.now() + this.writeQueueTimeoutMs;
    const releaseSlot = options.slot ? await this.writes.acquire(this.turnWait(deadline, options.wait, 'a write slot')) : undefined;
    let held: HeldClient;
    try {
      held = await this.checkout(releaseSlot);
    } catch (error) {
      releaseSlot?.();
      throw error;
    }
    try {
      await held.client.query('BEGIN');
      const result = await fn(held.client, deadline);
      await held.client.query('COMMIT');
      held.release();
      return result;
    } catch (error) {
      let broken: unknown = held.lost ?? (isConnectionLoss(error) ? error : undefined);
      if (broken === undefined) await held.client.query('ROLLBACK').catch((e: unknown) => (broken = e));
      held.release(broken);
      throw mapPgError(held.lost ?? error);
    }
  }

  private async guard<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      throw mapPgError(error);
    }
  }
}
