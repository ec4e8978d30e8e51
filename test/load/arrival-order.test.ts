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
