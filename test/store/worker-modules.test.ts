/**
 * The SQLite worker threads (index builder, checkpointer, load worker) are real modules: they start from the
 * sources (vitest, through Node's type stripping) and from the build (dist/), and do their work
 * on the thread, not through the event-loop fallbacks their callers keep for a worker that fails.
 */
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import * as fromSource from '../../src/store/sqlite/index-builder.js';
import * as checkpointerFromSource from '../../src/store/sqlite/checkpointer.js';
import { TABLES } from '../../src/tables.js';

type Builder = typeof fromSource;
type CheckpointerModule = typeof checkpointerFromSource;

const DIST = new URL('../../dist/store/sqlite/', import.meta.url);

const dir = mkdtempSync(join(tmpdir(), 'hr-workers-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
/** A WAL database file with a table of `rows` rows and no index. */
function database(rows: number): string {
  const path = join(dir, `db-${++n}.sqlite`);
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, k TEXT)');
  const insert = db.prepare('INSERT INTO t (id, k) VALUES (?, ?)');
  db.transaction(() => {
    for (let i = 1; i <= rows; i++) insert.run(i, `k${(i * 7919) % rows}`);
  })();
  db.close();
  return path;
}

const loaders: [string, () => Promise<{ builder: Builder; checkpointer: CheckpointerModule }>][] = [
  ['src', async () => ({ builder: fromSource, checkpointer: checkpointerFromSource })],
  [
    'dist',
    async () => {
      if (!existsSync(new URL('index-builder-worker.js', DIST))) throw new Error('dist/ lacks the worker modules: run `npm run build`');
      return {
        builder: (await import(new URL('index-builder.js', DIST).href)) as Builder,
        checkpointer: (await import(new URL('checkpointer.js', DIST).href)) as CheckpointerModule,
      };
    },
  ],
];

for (const [where, load] of loaders) {
  describe(`worker modules from ${where}/`, () => {
    it('the index builder creates the indexes on its thread', async () => {
      const { builder } = await load();
      const path = database(5000);
      await builder.buildIndexesOffThread({ path, busyTimeoutMs: 1000, cacheSize: -2000 }, ['CREATE INDEX t_k_idx ON t (k)']);
      const db = new Database(path, { readonly: true });
      expect(db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 't'").pluck().all()).toEqual(['t_k_idx']);
      db.close();
    });

    it("the index builder answers SQLite's own error, code included, and builds nothing of a failed set", async () => {
      const { builder } = await load();
      const path = database(10);
      const build = builder.buildIndexesOffThread({ path, busyTimeoutMs: 1000, cacheSize: -2000 }, [
        'CREATE INDEX t_k_idx ON t (k)',
        'CREATE INDEX t_x_idx ON t (no_such_column)',
      ]);
      await expect(build).rejects.toMatchObject({ code: 'SQLITE_ERROR', message: expect.stringContaining('no_such_column') });
      const db = new Database(path, { readonly: true });
      expect(db.prepare("SELECT count(*) FROM sqlite_master WHERE type = 'index'").pluck().get()).toBe(0);
      db.close();
    });

    it('the checkpointer copies another connection’s commits into the database file', async () => {
      const { checkpointer } = await load();
      const path = database(1);
      const writer = new Database(path);
      writer.pragma('wal_autocheckpoint = 0');
      const worker = checkpointer.Checkpointer.start(path);
      expect(worker).toBeDefined();
      let failed: unknown;
      worker!.onFailure((error) => (failed = error));
      try {
        const before = statSync(path).size;
        const insert = writer.prepare('INSERT INTO t (k) VALUES (?)');
        writer.transaction(() => {
          for (let i = 0; i < 20_000; i++) insert.run(`a longer key to fill pages ${i}`);
        })();
        // Only the worker checkpoints (the writer's own is off): wait for the file to grow.
        for (let i = 0; i < 200 && statSync(path).size <= before + 500_000; i++) await new Promise((r) => setTimeout(r, 50));
        expect(failed).toBeUndefined();
        expect(statSync(path).size).toBeGreaterThan(before + 500_000);
      } finally {
        await worker!.stop();
        writer.close();
      }
    });
  });
}

const storeModules: [string, () => Promise<typeof import('../../src/store/sqlite/sqlite-store.js')>][] = [
  ['src', () => import('../../src/store/sqlite/sqlite-store.js')],
  [
    'dist',
    async () => {
      if (!existsSync(new URL('load-worker.js', DIST))) throw new Error('dist/ lacks the worker modules: run `npm run build`');
      return (await import(new URL('sqlite-store.js', DIST).href)) as typeof import('../../src/store/sqlite/sqlite-store.js');
    },
  ],
];

for (const [where, load] of storeModules) {
  it(`the load worker from ${where}/ inserts an upload's rows on its thread and answers what it rejected`, async () => {
    const { SqliteStore } = await load();
    const path = join(dir, `load-${where}.db`);
    const store = new SqliteStore({ path });
    try {
      await store.migrate();
      expect(store.loadsOffThread).toBe(true);
      const table = { ...TABLES.departments };
      const session = await store.openLoad(table, { onConflict: 'reject', checkReferences: false });
      const staged = (line: number, id: number, name: string) => ({ line, raw: `${id},${name}`, values: [id, name], incomplete: false });
      const first = await session.write([staged(1, 1, 'Sales'), staged(2, 2, 'Legal')]);
      const rest = await session.write([staged(3, 1, 'Again'), staged(4, 3, 'Ops')]);
      const end = await session.finish();
      const rejected = [...first.rejected, ...rest.rejected, ...end.rejected];
      expect(first.inserted + rest.inserted + end.inserted).toBe(3);
      expect(rejected).toEqual([{ line: 3, raw: '1,Again', reason: 'duplicate id 1' }]);
      await session.rollback();
      const db = new Database(path, { readonly: true });
      expect(db.prepare('SELECT count(*) FROM departments').pluck().get()).toBe(0);
      db.close();
    } finally {
      await store.close();
    }
  });
}
