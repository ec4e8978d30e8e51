import type { ImportJobView } from '../../src/imports/job-view.js';
import { FINISHED_STATUSES } from '../../src/store/import-jobs.js';

export type { ImportJobView };

/** Reads a job (`get`) every 50 ms until it has ended; its last state. */
export async function waitForEnd(get: () => Promise<ImportJobView>, timeoutMs = 60_000): Promise<ImportJobView> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const job = await get();
    if (FINISHED_STATUSES.includes(job.status)) return job;
    if (Date.now() > deadline) throw new Error(`import still ${job.status} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
