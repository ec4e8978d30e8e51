/**
 * Uploads of one table run one after the other, in the order they came, on both backends: the
 * first one's rows win its ids even when a later upload's body arrives whole before the first
 * one's has ended (SQLite: the writer's FIFO lock; PostgreSQL: the table lock each upload takes
 * when it opens).
 */
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type TestApp } from '../helpers/app.js';
import { BACKENDS } from '../helpers/backends.js';
import { adminQuery } from '../helpers/postgres.js';

/** PostgreSQL: whether an upload holds the table lock on `jobs` in the test's schema. */
const holdsJobsLock = async (url: string): Promise<boolean> =>
  (
    await adminQuery(
      `SELECT count(*)::int AS n FROM pg_locks l JOIN pg_class c ON c.oid = l.relation JOIN pg_namespace s ON s.oid = c.relnamespace
       WHERE s.nspname = $1 AND c.relname = 'jobs' AND l.mode = 'ShareRowExclusiveLock' AND l.granted`,
      [/search_path%3D(\w+)/.exec(url)?.[1] ?? ''],
    )
  ).rows[0].n > 0;

const rows = (from: number, to: number): string => {
  let text = '';
  for (let id = from; id <= to; id++) text += `${id},Job ${id}\n`;
  return text;
};

for (const backend of BACKENDS) {
  describe.skipIf(!backend.available)(`uploads of one table in arrival order [${backend.name}]`, () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await startApp(backend);
    });
    afterAll(() => t.close());

    it('a later upload waits for an earlier one that is still streaming, then finds its ids taken', async () => {
      let release!: () => void;
      const rest = new Promise<void>((resolve) => (release = resolve));
      // First: rows 1–50 now (fewer than a chunk: nothing written yet), rows 51–100 later.
      const first = t.app.inject({
        method: 'POST',
        url: '/upload/jobs',
        payload: Readable.from(
          (async function* () {
            yield rows(1, 50);
            await rest;
            yield rows(51, 100);
          })(),
        ),
        headers: { 'content-type': 'text/csv' },
      });
      await new Promise((resolve) => setTimeout(resolve, 200));
      // On a loaded machine 200 ms may not be enough for the first to have its lock.
      if (backend.name === 'postgres') while (!(await holdsJobsLock(t.db.url))) await new Promise((resolve) => setTimeout(resolve, 20));
      // Second: its whole body at once, overlapping ids 51–100.
      let secondDone = false;
      const second = t.app
        .inject({ method: 'POST', url: '/upload/jobs', payload: rows(51, 150), headers: { 'content-type': 'text/csv' } })
        .then((res) => {
          secondDone = true;
          return res;
        });
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(secondDone).toBe(false);
      release();
      const [a, b] = await Promise.all([first, second]);
      expect(a.json()).toMatchObject({ status: 'committed', inserted: 100, rejected: 0 });
      expect(b.json()).toMatchObject({ status: 'committed', inserted: 50, rejected: 50 });
      expect(b.json().errors[0]).toEqual({ line: 1, reason: 'duplicate id 51' });
      expect((await t.app.inject('/tables')).json().tables[1]).toEqual({ name: 'jobs', rows: 150 });
    });
  });
}
