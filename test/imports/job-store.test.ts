import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import type { NewImportJob } from '../../src/store/import-jobs.js';
import { openStore } from '../../src/store/open-store.js';
import type { Store } from '../../src/store/store.js';
import { BACKENDS, type TestDatabase } from '../helpers/backends.js';

const newJob = (): NewImportJob => ({
  import_id: randomUUID(),
  table: 'jobs',
  source: 'file:jobs.csv',
  options: { batch_size: 1000, strict: false, dry_run: false, on_conflict: 'reject' },
});
const progress = { bytes_read: 10, bytes_total: 100, records: 2 };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

for (const backend of BACKENDS) {
  describe.skipIf(!backend.available)(`import job store (${backend.name})`, () => {
    let db: TestDatabase;
    let store: Store;

    beforeAll(async () => {
      db = await backend.create();
      store = await openStore(loadConfig({}, { DATABASE_URL: db.url }));
      await store.migrate();
    });
    afterAll(async () => {
      await store.close();
      await db.drop();
    });

    it('claims the oldest queued job once, renews its lease and ends it only for its owner', async () => {
      const a = await store.importJobs.create(newJob());
      const b = await store.importJobs.create(newJob());
      expect(a.status).toBe('queued');
      const first = await store.importJobs.claim('one', 60_000);
      expect(first?.import_id).toBe(a.import_id);
      expect(first?.attempts).toBe(1);
      expect((await store.importJobs.claim('two', 60_000))?.import_id).toBe(b.import_id);
      expect(await store.importJobs.claim('three', 60_000)).toBeUndefined();

      expect(await store.importJobs.heartbeat(a.import_id, 'one', 60_000, progress)).toEqual({ owned: true, cancelRequested: false });
      expect((await store.importJobs.heartbeat(a.import_id, 'two', 60_000, progress)).owned).toBe(false);
      expect((await store.importJobs.get(a.import_id))?.records).toBe(2);

      const end = { status: 'committed', upload_id: 'u1', message: null, ...progress } as const;
      expect(await store.importJobs.finish(a.import_id, 'two', end)).toBe(false);
      expect(await store.importJobs.finish(a.import_id, 'one', end)).toBe(true);
      expect(await store.importJobs.finish(a.import_id, 'one', end)).toBe(false);
      const done = await store.importJobs.get(a.import_id);
      expect(done?.status).toBe('committed');
      expect(done?.lease_owner).toBeNull();
      expect(done?.finished_at).not.toBeNull();
      await store.importJobs.finish(b.import_id, 'two', end);
    });

    it('makes a running job whose lease expired claimable again, and its old owner loses it', async () => {
      const job = await store.importJobs.create(newJob());
      await store.importJobs.claim('dead', 1);
      await sleep(20);
      const again = await store.importJobs.claim('alive', 60_000);
      expect(again?.import_id).toBe(job.import_id);
      expect(again?.attempts).toBe(2);
      expect((await store.importJobs.heartbeat(job.import_id, 'dead', 60_000, progress)).owned).toBe(false);
      await store.importJobs.release(job.import_id, 'alive', 0);
      expect((await store.importJobs.get(job.import_id))?.status).toBe('queued');
      // A release with a delay is not claimable before it.
      await store.importJobs.claim('alive', 60_000);
      await store.importJobs.release(job.import_id, 'alive', 60_000);
      expect(await store.importJobs.claim('other', 60_000)).toBeUndefined();
    });

    it('gives concurrent claimers different jobs', async () => {
      const ids = new Set<string>();
      for (let i = 0; i < 6; i++) ids.add((await store.importJobs.create(newJob())).import_id);
      const claims = await Promise.all(Array.from({ length: 8 }, (_, i) => store.importJobs.claim(`c${i}`, 60_000)));
      const got = claims.filter((c) => c !== undefined).map((c) => c.import_id);
      expect(new Set(got).size).toBe(got.length);
      expect(got.filter((id) => ids.has(id)).length).toBe(got.length);
    });

    it('cancels a queued job at once and flags a running one', async () => {
      const queued = await store.importJobs.create(newJob());
      expect((await store.importJobs.requestCancel(queued.import_id))?.status).toBe('cancelled');
      const running = await store.importJobs.create(newJob());
      let claimed;
      while ((claimed = await store.importJobs.claim('r', 60_000)) !== undefined && claimed.import_id !== running.import_id);
      const flagged = await store.importJobs.requestCancel(running.import_id);
      expect(flagged?.status).toBe('running');
      expect(flagged?.cancel_requested).toBe(true);
      expect((await store.importJobs.heartbeat(running.import_id, 'r', 60_000, progress)).cancelRequested).toBe(true);
      expect(await store.importJobs.requestCancel('no-such-job')).toBeUndefined();
    });

    it('lists newest first, in keyset pages', async () => {
      const all = await store.importJobs.list(1000);
      const page1 = await store.importJobs.list(3);
      const page2 = await store.importJobs.list(3, page1.at(-1)!.import_id);
      expect([...page1, ...page2].map((j) => j.import_id)).toEqual(all.slice(0, 6).map((j) => j.import_id));
    });
  });
}
