/**
 * What a job does when its attempt fails for a reason other than the file: a database that
 * answers 503 is a transient failure (rolled back, queued again), up to MAX_ATTEMPTS claims; a
 * file at fault fails at once. The store is the real one, wrapped to refuse the first loads.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors.js';
import { MAX_ATTEMPTS } from '../../src/imports/runner.js';
import { BACKENDS } from '../helpers/backends.js';
import { counts, startWrappedApp, type WrappedApp } from '../faults/support/app.js';
import { waitForEnd } from '../helpers/imports.js';

for (const backend of BACKENDS) {
  describe.skipIf(!backend.available)(`import jobs after transient failures (${backend.name})`, () => {
    let dir: string;
    let t: WrappedApp;
    /** How many of the coming loads the database refuses. */
    let refuse = 0;

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'import-retry-'));
      writeFileSync(join(dir, 'jobs.csv'), '1,Engineer\n2,Analyst\n');
      writeFileSync(join(dir, 'bad.csv'), '1,"never closed\n');
      t = await startWrappedApp(
        backend,
        {
          openLoad: (base, ...args) => {
            if (refuse > 0) {
              refuse--;
              return Promise.reject(new AppError('DATABASE_UNAVAILABLE'));
            }
            return base.openLoad(...args);
          },
        },
        { IMPORT_DIR: dir, IMPORT_RETRY_MS: 0 },
      );
      await t.app.ready();
    });
    afterAll(async () => {
      await t.close();
      rmSync(dir, { recursive: true, force: true });
    });

    const run = async (source: string) => {
      const res = await t.app.inject({ method: 'POST', url: '/imports', payload: { table: 'jobs', source, on_conflict: 'update' } });
      expect(res.statusCode).toBe(202);
      return waitForEnd(async () => (await t.app.inject({ url: `/imports/${res.json().import_id}` })).json());
    };

    it('a database that refuses twice: queued again each time, committed at the third attempt', async () => {
      refuse = 2;
      expect(await run('file:jobs.csv')).toMatchObject({ status: 'committed', attempts: 3, inserted: 2 });
      expect((await counts(t.app)).jobs).toBe(2);
    });

    it(`a database that keeps refusing: failed after ${MAX_ATTEMPTS} attempts, saying why`, async () => {
      refuse = Number.POSITIVE_INFINITY;
      const done = await run('file:jobs.csv');
      refuse = 0;
      expect(done).toMatchObject({ status: 'failed', attempts: MAX_ATTEMPTS });
      expect(done.message).toMatch(new RegExp(`Gave up after ${MAX_ATTEMPTS} attempts.*unavailable`));
    });

    it('a malformed file fails at its first attempt: trying again would fail the same way', async () => {
      expect(await run('file:bad.csv')).toMatchObject({ status: 'failed', attempts: 1 });
    });
  });
}
