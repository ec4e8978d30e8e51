/**
 * A replace restore on PostgreSQL loads a fresh table and swaps it in (table-swap.ts). What must
 * hold: the table keeps its name, index and constraint names and count triggers (a later batch
 * still counts its hires), a repeated id leaves everything as it was, a table a DBA changed (a
 * view, a grant, a table in the way) keeps the DELETE path, a reader holding the table past the
 * wait makes the rows be copied over instead (other readers getting through meanwhile), and a writer of a second instance queued behind the restore writes
 * into the new table. Expected counts are worked out here from the rows, not read from the store.
 */
import type { FastifyInstance } from 'fastify';
import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { openStore } from '../../src/store/open-store.js';
import { importPostgresRows } from '../../src/store/postgres/postgres-restore.js';
import type { Store } from '../../src/store/store.js';
import { TABLES, type Row } from '../../src/tables.js';
import { postgresBackend } from '../helpers/postgres.js';
import { countsOf2021, storedCounts, storedHires, tableCatalog, tableOid } from '../helpers/hired-table.js';
import type { TestDatabase } from '../helpers/backends.js';

const HE = TABLES.hired_employees;

/** `n` rows from id `from`: hires in 2021, quarter by id, in departments 1–3 and jobs 1–2. */
const rowsFrom = (from: number, n: number): Row[] =>
  Array.from({ length: n }, (_, i): Row => {
    const id = from + i;
    return [id, `Hire ${id}`, new Date(Date.UTC(2021, (id % 4) * 3, 5)).toISOString(), 1 + (id % 3), 1 + (id % 2)];
  });

async function* pages(rows: readonly Row[], size = 500, before?: Promise<unknown>): AsyncIterable<readonly Row[]> {
  for (let i = 0; i < rows.length; i += size) {
    if (i > 0 && before !== undefined) await before;
    yield rows.slice(i, i + size);
  }
}

describe.skipIf(!postgresBackend.available)('a replace restore swaps in a fresh table [postgres]', () => {
  let db: TestDatabase;
  let store: Store;
  let app: FastifyInstance;
  let sql: pg.Pool;

  beforeAll(async () => {
    db = await postgresBackend.create();
    const config = loadConfig({}, { LOG_LEVEL: 'silent', DATABASE_URL: db.url });
    store = await openStore(config);
    app = await buildApp(config, { store });
    sql = new pg.Pool({ connectionString: db.url, max: 3 });
  });
  afterAll(async () => {
    await app?.close();
    await store?.close();
    await sql?.end();
    await db?.drop();
  });
  beforeEach(async () => {
    await store.importRows(HE, pages(rowsFrom(1, 1200)), 'replace');
  });

  const oid = () => tableOid(sql);
  const catalog = () => tableCatalog(sql);
  const stored = () => storedHires<Row>(sql);
  const counts = () => storedCounts(sql);

  it('a new table by the old name: same indexes, constraints, triggers; rows and counts exactly the file; later writes still counted', async () => {
    const before = await catalog();
    const oldOid = await oid();
    const file = rowsFrom(5000, 3000);
    expect(await store.importRows(HE, pages(file), 'replace')).toBe(3000);
    expect(await oid()).not.toBe(oldOid);
    expect(await catalog()).toEqual(before);
    expect(await stored()).toEqual(file);
    expect(await counts()).toEqual(countsOf2021(file));
    // Written frozen (COPY FREEZE into the table made in the transaction): every page all-frozen,
    // so the first backup sets no hint bits.
    await sql.query('CREATE EXTENSION IF NOT EXISTS pg_visibility');
    const vm = await sql.query(
      `SELECT s.all_frozen::int AS frozen, (pg_relation_size('hired_employees') / current_setting('block_size')::int)::int AS pages
       FROM pg_visibility_map_summary('hired_employees') AS s`,
    );
    expect(vm.rows[0].frozen).toBeGreaterThan(0);
    expect(vm.rows[0].frozen).toBe(vm.rows[0].pages);

    // The count triggers came back with the table: a batch and an upsert are counted.
    const batch = await app.inject({
      method: 'POST',
      url: '/batch/hired_employees',
      payload: [{ id: 1, name: 'New', datetime: '2021-02-01T00:00:00Z', department_id: 3, job_id: 2 }],
    });
    expect(batch.statusCode, batch.body).toBe(201);
    const upsert = await app.inject({
      method: 'POST',
      url: '/upload/hired_employees?on_conflict=update',
      payload: '5000,Moved,2021-11-01T00:00:00Z,2,1\n',
      headers: { 'content-type': 'text/csv' },
    });
    expect(upsert.statusCode, upsert.body).toBe(200);
    const after = [[1, 'New', '2021-02-01T00:00:00.000Z', 3, 2], [5000, 'Moved', '2021-11-01T00:00:00.000Z', 2, 1], ...file.slice(1)];
    expect(await counts()).toEqual(countsOf2021(after));
  });

  it('a repeated id in the file: 4xx BACKUP_INVALID naming it, the old table untouched, no fresh table left', async () => {
    const before = await catalog();
    const oldOid = await oid();
    const file = [...rowsFrom(1, 800), ...rowsFrom(700, 5)];
    const seen = new Set<unknown>();
    const twice = new Set(file.map((row) => row[0]).filter((id) => seen.has(id) || !seen.add(id)));
    // The key is built after the COPY (buildIndexes): it names a repeated id, not always the first in the file.
    const error = await store.importRows(HE, pages(file), 'replace').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ code: 'BACKUP_INVALID', details: { field: 'id' } });
    expect(twice).toContain((error as { details: { id: unknown } }).details.id);
    expect(await oid()).toBe(oldOid);
    expect(await catalog()).toEqual(before);
    expect(await stored()).toEqual(rowsFrom(1, 1200));
    expect(await counts()).toEqual(countsOf2021(rowsFrom(1, 1200)));
  });

  /** Changes a DBA might make, each with what must still be there after the restore. */
  const CHANGES = [
    {
      change: 'a view on it',
      make: 'CREATE VIEW hires_2021 AS SELECT id, name FROM hired_employees',
      kept: async (n: number) => expect(Number((await sql.query('SELECT count(*) AS n FROM hires_2021')).rows[0].n)).toBe(n),
      undo: 'DROP VIEW hires_2021',
    },
    {
      change: 'a grant to another role',
      make: 'DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $r$hr_swap_reader$r$) THEN CREATE ROLE hr_swap_reader; END IF; END $$; GRANT SELECT ON hired_employees TO hr_swap_reader',
      kept: async () =>
        expect((await sql.query(`SELECT has_table_privilege('hr_swap_reader', 'hired_employees', 'SELECT') AS ok`)).rows[0].ok).toBe(true),
      undo: 'REVOKE ALL ON hired_employees FROM hr_swap_reader',
    },
    {
      change: 'a table named like the fresh one beside it',
      make: 'CREATE TABLE hired_employees_restore (note text)',
      kept: async () => expect((await sql.query(`SELECT to_regclass('hired_employees_restore') IS NOT NULL AS ok`)).rows[0].ok).toBe(true),
      undo: 'DROP TABLE hired_employees_restore',
    },
  ];

  it.each(CHANGES)(
    'a table with $change keeps the DELETE path: the same table, the change kept, rows and counts the file',
    async ({ make, kept, undo }) => {
      await sql.query(make);
      try {
        const oldOid = await oid();
        const file = rowsFrom(9000, 700);
        expect(await store.importRows(HE, pages(file), 'replace')).toBe(700);
        expect(await oid()).toBe(oldOid);
        await kept(700);
        expect(await stored()).toEqual(file);
        expect(await counts()).toEqual(countsOf2021(file));
      } finally {
        await sql.query(undo);
      }
    },
  );

  it('a reader holding the table past the wait: the rows are copied over into the old table instead, counts exact', async () => {
    const reader = await sql.connect();
    try {
      await reader.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
      await reader.query('SELECT id FROM hired_employees LIMIT 1');
      const oldOid = await oid();
      const file = rowsFrom(20_000, 900);
      const pool = (store as unknown as { pool: pg.Pool }).pool;
      let holding = true;
      const restoring = importPostgresRows(pool, HE, { rows: pages(file) }, 'replace', { deadline: Date.now() + 20_000, swapWaitMs: 3000 });
      // While the swap tries for the old table, another reader still gets through: it queues
      // behind one short try at most, not behind a DROP that waits for the holder.
      let trying = false;
      for (let i = 0; i < 500 && !trying; i++) {
        const drop = await sql.query(
          `SELECT 1 FROM pg_stat_activity WHERE query LIKE 'DROP TABLE %hired_employees%' AND pid <> pg_backend_pid()`,
        );
        trying = drop.rows.length > 0;
        if (!trying) await new Promise((resolve) => setTimeout(resolve, 20));
      }
      expect(trying).toBe(true);
      const seen = await sql.query('SELECT count(*) AS n FROM hired_employees');
      expect(holding).toBe(true);
      expect(Number(seen.rows[0].n)).toBe(1200);
      expect(await restoring).toBe(900);
      holding = false;
      expect(await oid()).toBe(oldOid);
      // The reader's snapshot still sees the old rows; after it ends, the new ones are there.
      expect(Number((await reader.query('SELECT count(*) AS n FROM hired_employees WHERE id < 2000')).rows[0].n)).toBe(1200);
      await reader.query('COMMIT');
      expect(await stored()).toEqual(file);
      expect(await counts()).toEqual(countsOf2021(file));
      expect((await catalog()).tables.map((t: { tablename: string }) => t.tablename)).not.toContain('hired_employees_restore');
    } finally {
      await reader.query('ROLLBACK').catch(() => undefined);
      reader.release();
    }
  });

  it("a second instance's batch queued behind the restore lands in the new table, counted", async () => {
    const config = loadConfig({}, { LOG_LEVEL: 'silent', DATABASE_URL: db.url });
    const second = await buildApp(config);
    try {
      let letGo!: () => void;
      const held = new Promise<void>((resolve) => (letGo = resolve));
      const file = rowsFrom(30_000, 1000);
      const restoring = store.importRows(HE, pages(file, 500, held), 'replace');
      // The restore holds the table's write lock while its second page is held back.
      await new Promise((resolve) => setTimeout(resolve, 300));
      const batch = second.inject({
        method: 'POST',
        url: '/batch/hired_employees',
        payload: [{ id: 7, name: 'Queued', datetime: '2021-04-02T00:00:00Z', department_id: 1, job_id: 1 }],
      });
      const reading = second.inject('/metrics/hired-employees?year=2021');
      await new Promise((resolve) => setTimeout(resolve, 300));
      letGo();
      expect(await restoring).toBe(1000);
      expect((await batch).statusCode).toBe(201);
      expect((await reading).statusCode).toBe(200);
      const after = [[7, 'Queued', '2021-04-02T00:00:00.000Z', 1, 1], ...file];
      expect(await stored()).toEqual(after);
      expect(await counts()).toEqual(countsOf2021(after));
    } finally {
      await second.close();
    }
  });
});
