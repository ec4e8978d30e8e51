import { Worker } from 'node:worker_threads';
import type { IndexBuilderWorkerData, IndexBuildResult } from './index-builder-worker.js';

/**
 * The worker's module: compiled beside this file in dist/; from src/ (vitest) the .ts itself,
 * which Node strips of its types (that loader needs a larger heap than the worker's own work).
 */
const FROM_SOURCE = import.meta.url.endsWith('.ts');
const WORKER_URL = new URL(FROM_SOURCE ? './index-builder-worker.ts' : './index-builder-worker.js', import.meta.url);

/**
 * Helper threads SQLite's sorter may use besides the worker (PRAGMA threads): sorted runs are
 * made and merged in parallel. Measured on 10M rows: the three indexes in 15.9 s with none,
 * 13.1 s with two.
 */
const SORT_THREADS = 2;

export interface IndexBuildOptions {
  path: string;
  busyTimeoutMs: number;
  /** PRAGMA cache_size of the worker's connection (the sort's memory). */
  cacheSize: number;
}

/**
 * Runs `statements` (CREATE INDEX …) on a worker thread with a connection of its own, so that
 * sorting millions of keys does not stop the event loop. The caller holds the store's writer
 * turn meanwhile; readers go on. Rejects with the worker's error (an Error with its SQLite code).
 */
export function buildIndexesOffThread(options: IndexBuildOptions, statements: readonly string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const workerData: IndexBuilderWorkerData = { ...options, statements, sortThreads: SORT_THREADS };
    const worker = new Worker(WORKER_URL, {
      workerData,
      resourceLimits: { maxYoungGenerationSizeMb: 2, maxOldGenerationSizeMb: FROM_SOURCE ? 32 : 16 },
    });
    let settled = false;
    worker.once('message', (result: IndexBuildResult) => {
      settled = true;
      if (result.ok) resolve();
      else reject(Object.assign(new Error(result.message), { code: result.code }));
    });
    worker.once('error', (error) => {
      settled = true;
      reject(error);
    });
    worker.once('exit', (code) => {
      if (!settled) reject(new Error(`the index builder exited with code ${code}`));
    });
  });
}
