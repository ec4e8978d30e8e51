import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { generateCsv } from '../../src/cli/gen/lines.js';
import { startApp } from '../helpers/app.js';

describe('SQLite WAL checkpoints on a worker thread', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hr-ckpt-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  // On the load worker's thread (the default), or on a thread of their own (SQLITE_LOAD_THREAD=false).
  it.each([true, false])(
    'copy a committed upload into the database file without the committing request doing it (load thread: %s)',
    async (loadThread) => {
      const file = join(dir, `db-${loadThread}.sqlite`);
      const t = await startApp(
        {
          name: 'sqlite',
          available: true,
          create: async () => ({ url: `sqlite:${file}`, drop: async () => undefined }),
        },
        { SQLITE_LOAD_THREAD: loadThread },
      );
      try {
        const writer = (t.app.store as unknown as { writer: Database.Database }).writer;
        // SQLite's own checkpoint (inside COMMIT, on the event loop) is off while the worker runs.
        expect(writer.pragma('wal_autocheckpoint', { simple: true })).toBe(0);
        const before = statSync(file).size;
        const csv = [...generateCsv({ table: 'hired_employees', rows: 20_000, seed: 3 })].join('');
        const res = await t.app.inject({
          method: 'POST',
          url: '/upload/hired_employees',
          payload: csv,
          headers: { 'content-type': 'text/csv' },
        });
        expect(res.json()).toMatchObject({ inserted: 20_000 });
        // The worker notices the commit and copies the WAL into the file: wait for it (no timing asserted).
        for (let i = 0; i < 200 && statSync(file).size <= before + 1_000_000; i++) await new Promise((r) => setTimeout(r, 50));
        expect(statSync(file).size).toBeGreaterThan(before + 1_000_000);
        // Another connection reads the same rows.
        const other = new Database(file, { readonly: true });
        expect(other.prepare('SELECT COUNT(*) FROM hired_employees').pluck().get()).toBe(20_000);
        other.close();
        if (loadThread) {
          // A load thread that stops takes its checkpoints with it: SQLite's own come back on.
          await (t.app.store as unknown as { loadThread: { terminate(): Promise<void> } }).loadThread.terminate();
          for (let i = 0; i < 100 && writer.pragma('wal_autocheckpoint', { simple: true }) === 0; i++)
            await new Promise((r) => setTimeout(r, 20));
          expect(writer.pragma('wal_autocheckpoint', { simple: true })).toBe(1000);
        }
      } finally {
        await t.close();
      }
    },
  );
});
