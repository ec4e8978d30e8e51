import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors.js';
import { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { LoadOptions, LoadOutcome, StagedRow, Store } from '../../src/store/store.js';
import { TABLES, type Row, type TableName } from '../../src/tables.js';
import type { TestDatabase } from '../helpers/backends.js';
import { postgresBackend } from '../helpers/postgres.js';

/**
 * The load session's contract, checked on every store the same way: SQLite applies rows one by one
 * as they come; PostgreSQL stages them and applies them set-based (at the end, or every few rows
 * with a small `applyEvery`). The counts and the rejected rows must not tell them apart.
 */
interface StoreCase {
  name: string;
  available: boolean;
  open(): Promise<{ store: Store; close(): Promise<void> }>;
}

const pgCase = (applyEvery?: number): StoreCase => ({
  name: applyEvery === undefined ? 'postgres' : `postgres, applied every ${applyEvery} rows`,
  available: postgresBackend.available,
  open: async () => {
    const db: TestDatabase = await postgresBackend.create();
    const store = new PostgresStore({ connectionString: db.url, poolMax: 2, applyEvery });
    return {
      store,
      close: async () => {
        await store.close();
        await db.drop();
      },
    };
  },
});

/** A SQLite file: its loads run on the load worker (LoadThread), or on the writer connection. */
function sqliteFileCase(loadThread: boolean): StoreCase {
  return {
    name: loadThread ? 'sqlite file, load worker' : 'sqlite file, writer connection',
    available: true,
    open: async () => {
      const dir = mkdtempSync(join(tmpdir(), 'hr-load-session-'));
      const store = new SqliteStore({ path: join(dir, 'hr.db'), loadThread });
      expect(store.loadsOffThread).toBe(loadThread);
      return {
        store,
        close: async () => {
          await store.close();
          rmSync(dir, { recursive: true, force: true });
        },
      };
    },
  };
}

const CASES: StoreCase[] = [
  {
    name: 'sqlite',
    available: true,
    open: async () => {
      const store = new SqliteStore({ path: ':memory:' });
      return { store, close: () => store.close() };
    },
  },
  sqliteFileCase(true),
  sqliteFileCase(false),
  pgCase(),
  pgCase(2),
];

const staged = (line: number, values: Row): StagedRow => ({
  line,
  raw: values.map((v) => (v === null ? '' : String(v))).join(','),
  values,
  incomplete: values.includes(null),
});

/** Loads rows in chunks of `chunk` through one session and commits; returns the summed outcome. */
async function load(store: Store, table: TableName, rows: StagedRow[], options: Partial<LoadOptions> = {}, chunk = 3) {
  const session = await store.openLoad(TABLES[table], { onConflict: 'reject', checkReferences: false, ...options });
  const total: LoadOutcome = { inserted: 0, updated: 0, incomplete: 0, rejected: [] };
  const add = (o: LoadOutcome) => {
    total.inserted += o.inserted;
    total.updated += o.updated;
    total.incomplete += o.incomplete;
    total.rejected.push(...o.rejected);
  };
  for (let i = 0; i < rows.length; i += chunk) add(await session.write(rows.slice(i, i + chunk)));
  add(await session.finish());
  total.rejected.sort((a, b) => a.line - b.line);
  return { session, total };
}

for (const c of CASES) {
  describe.skipIf(!c.available)(`load session [${c.name}]`, () => {
    let store: Store;
    let close: () => Promise<void>;
    beforeAll(async () => {
      ({ store, close } = await c.open());
      await store.migrate();
    });
    afterAll(() => close());

    const commit = async (table: TableName, rows: StagedRow[], options: Partial<LoadOptions> = {}, chunk = 3) => {
      const { session, total } = await load(store, table, rows, options, chunk);
      await session.commit(record(table), (async function* () {})());
      return total;
    };
    const stored = async (table: TableName): Promise<Record<string, unknown>[]> =>
      (await store.query(`SELECT * FROM ${table} ORDER BY id`, [])).map((r) => ('datetime' in r ? { ...r, datetime: iso(r.datetime) } : r));

    it('rejects later duplicates of the file and ids already stored; the first line of an id wins', async () => {
      await store.reset();
      await commit('departments', [staged(1, [5, 'Stored'])]);
      const outcome = await commit('departments', [
        staged(1, [1, 'A']),
        staged(2, [2, null]),
        staged(3, [1, 'A again']),
        staged(4, [5, 'Stored again']),
        staged(5, [3, 'C']),
        staged(6, [2, 'B again']),
        staged(7, [1, 'A third']),
      ]);
      expect(outcome).toEqual({
        inserted: 3,
        updated: 0,
        incomplete: 1,
        rejected: [
          { line: 3, raw: '1,A again', reason: 'duplicate id 1' },
          { line: 4, raw: '5,Stored again', reason: 'duplicate id 5' },
          { line: 6, raw: '2,B again', reason: 'duplicate id 2' },
          { line: 7, raw: '1,A third', reason: 'duplicate id 1' },
        ],
      });
      expect(await stored('departments')).toEqual([
        { id: 1, department: 'A' },
        { id: 2, department: null },
        { id: 3, department: 'C' },
        { id: 5, department: 'Stored' },
      ]);
    });

    // PostgreSQL copies straight into the table until a COPY of several thousand rows meets a
    // unique violation part-way, rolls that segment back and replays it through staging.
    it.skipIf(c.name.includes('applied every'))(
      'finds a duplicate deep in a large file and one already stored, keeping every other row',
      async () => {
        await store.reset();
        await commit('jobs', [staged(1, [250_000, 'Stored'])]);
        const rows: StagedRow[] = [];
        for (let id = 1; id <= 240_000; id++) rows.push(staged(id, [id, `job ${id}`]));
        rows.splice(100_001, 0, staged(0, [3, 'early repeat']));
        rows.forEach((row, i) => (row.line = i + 1));
        rows.push(staged(240_002, [180_000, 'late repeat']), staged(240_003, [250_000, 'stored']), staged(240_004, [240_003, 'last']));
        const outcome = await commit('jobs', rows, {}, 1000);
        expect(outcome).toEqual({
          inserted: 240_001,
          updated: 0,
          incomplete: 0,
          rejected: [
            { line: 100_002, raw: '3,early repeat', reason: 'duplicate id 3' },
            { line: 240_002, raw: '180000,late repeat', reason: 'duplicate id 180000' },
            { line: 240_003, raw: '250000,stored', reason: 'duplicate id 250000' },
          ],
        });
        const [count] = await store.query('SELECT COUNT(*) AS n, MAX(id) AS top FROM jobs', []);
        expect(Number(count!.n)).toBe(240_002);
        expect((await store.query('SELECT job FROM jobs WHERE id = 180000', []))[0]).toEqual({ job: 'job 180000' });
      },
    );

    it('upserts with on_conflict=update: the last line of an id wins, each later line counts as updated', async () => {
      await store.reset();
      await commit('departments', [staged(1, [5, 'Stored'])]);
      const outcome = await commit(
        'departments',
        [staged(1, [1, 'A']), staged(2, [5, null]), staged(3, [1, 'A2']), staged(4, [6, 'F']), staged(5, [1, null])],
        { onConflict: 'update' },
      );
      expect(outcome).toEqual({ inserted: 2, updated: 3, incomplete: 2, rejected: [] });
      expect(await stored('departments')).toEqual([
        { id: 1, department: null },
        { id: 5, department: null },
        { id: 6, department: 'F' },
      ]);
    });

    it('checks references in strict mode before duplicates: a row rejected for them does not hold its id', async () => {
      await store.reset();
      await commit('departments', [staged(1, [1, 'D'])]);
      await commit('jobs', [staged(1, [1, 'J'])]);
      const t = '2021-05-01T00:00:00Z';
      const rows = [
        staged(1, [10, 'a', t, 9, 1]),
        staged(2, [10, 'b', t, 1, 1]),
        staged(3, [11, 'c', t, 1, 7]),
        staged(4, [12, 'd', t, 8, 7]),
        staged(5, [10, 'e', t, 1, 1]),
      ];
      const outcome = await commit('hired_employees', rows, { checkReferences: true });
      expect(outcome).toEqual({
        inserted: 1,
        updated: 0,
        incomplete: 0,
        rejected: [
          { line: 1, raw: `10,a,${t},9,1`, reason: 'department_id 9 does not exist' },
          { line: 3, raw: `11,c,${t},1,7`, reason: 'job_id 7 does not exist' },
          { line: 4, raw: `12,d,${t},8,7`, reason: 'department_id 8 does not exist' },
          { line: 5, raw: `10,e,${t},1,1`, reason: 'duplicate id 10' },
        ],
      });
      const upserted = await commit('hired_employees', rows, { checkReferences: true, onConflict: 'update' });
      expect(upserted).toMatchObject({ inserted: 0, updated: 2, incomplete: 0 });
      expect(upserted.rejected.map((r) => r.line)).toEqual([1, 3, 4]);
      expect(await stored('hired_employees')).toEqual([{ id: 10, name: 'e', datetime: t, department_id: 1, job_id: 1 }]);
    });

    // On PostgreSQL the fast path keeps a segment's raw records unescaped, beside its COPY text,
    // for a replay: a duplicate replays them through staging, byte for byte, lines and counts kept.
    it('rejects a duplicate with its raw record as sent, and counts incomplete rows, when a segment is replayed', async () => {
      await store.reset();
      const names = ['tab\there', 'back\\slash \\N', 'new\nline\r\n', '"quoted", comma', 'Ünïcødé ✓ 𝄞', '\\.', null];
      const rows = names.map((n, i) => staged(i + 1, [i + 1, n]));
      for (let id = 8; id <= 3000; id++) rows.push(staged(id, [id, id % 10 === 0 ? null : `job ${id}`]));
      const repeated = names.map((n, i) => ({ ...staged(3001 + i, [i + 1, n]), raw: `${i + 1},${n ?? ''} again ✓` }));
      rows.push(...repeated, staged(3008, [3008, null]));
      const outcome = await commit('jobs', rows, {}, 250);
      expect(outcome).toEqual({
        inserted: 3001,
        updated: 0,
        // Ids 7, 10, 20, …, 3000 and 3008; the repeated null (line 3007) is rejected, not counted.
        incomplete: 1 + 300 + 1,
        rejected: repeated.map((r) => ({ line: r.line, raw: r.raw, reason: `duplicate id ${r.values[0]}` })),
      });
      expect((await stored('jobs')).slice(0, names.length).map((r) => r.job)).toEqual(names);
    });

    it('keeps text as sent: tabs, backslashes, newlines, quotes and non-ASCII', async () => {
      await store.reset();
      const names = ['tab\there', 'back\\slash \\N', 'new\nline\r\n', '"quoted", comma', 'Ünïcødé ✓ 𝄞', '\\.'];
      const outcome = await commit(
        'jobs',
        names.map((n, i) => staged(i + 1, [i + 1, n])),
      );
      expect(outcome).toMatchObject({ inserted: names.length, rejected: [] });
      expect((await stored('jobs')).map((r) => r.job)).toEqual(names);
    });

    it('rolls back every row, twice safely, and leaves the store usable', async () => {
      await store.reset();
      const { session } = await load(store, 'jobs', [staged(1, [1, 'a']), staged(2, [2, 'b'])]);
      await session.rollback();
      await session.rollback();
      expect((await store.countRows()).find((t) => t.name === 'jobs')!.rows).toBe(0);
      expect(await commit('jobs', [staged(1, [1, 'a'])])).toMatchObject({ inserted: 1 });
    });

    it('logs the upload report and its rejects in line order with the commit', async () => {
      await store.reset();
      const { session } = await load(store, 'jobs', [staged(1, [1, 'a'])]);
      const rejects = [
        { line: 9, raw: '9,x,y', reason: 'expected 2 fields (id, job), found 3' },
        { line: 2, raw: 'b\tc\\d', reason: 'id is not an integer: "b"' },
      ];
      await session.commit(
        { ...record('jobs'), upload_id: `log-${c.name}`, rejected: 2 },
        (async function* () {
          yield* rejects;
        })(),
      );
      expect(await store.getUpload(`log-${c.name}`)).toEqual({ ...record('jobs'), upload_id: `log-${c.name}`, rejected: 2 });
      const read = [];
      for await (const r of store.rejects(`log-${c.name}`)) read.push(r);
      expect(read).toEqual([rejects[1], rejects[0]]);
    });

    it('inserts a batch all or nothing: a stored id or a repeated one → DUPLICATE_ID listing them', async () => {
      await store.reset();
      expect(
        await store.insertRows(TABLES.jobs, [
          [1, 'a'],
          [2, 'b'],
        ]),
      ).toBe(2);
      const error = await store
        .insertRows(TABLES.jobs, [
          [3, 'c'],
          [2, 'b'],
          [3, 'c again'],
          [4, 'd'],
        ])
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(AppError);
      expect(error).toMatchObject({
        code: 'DUPLICATE_ID',
        message: '2 id(s) already exist; nothing was inserted',
        details: { ids: [2, 3] },
      });
      expect((await store.countRows()).find((t) => t.name === 'jobs')!.rows).toBe(2);
    });
  });
}

const iso = (value: unknown): unknown => (value instanceof Date ? value.toISOString().replace('.000Z', 'Z') : value);

const record = (table: TableName) => ({
  upload_id: `u-${table}-${Math.random().toString(36).slice(2)}`,
  table,
  source: 'csv' as const,
  status: 'committed' as const,
  received: 0,
  inserted: 0,
  updated: 0,
  rejected: 0,
  incomplete: 0,
  batch_size: 3,
  strict: false,
  dry_run: false,
  on_conflict: 'reject' as const,
  started_at: '2024-01-01T00:00:00.000Z',
  elapsed_ms: 1,
  message: null,
});
