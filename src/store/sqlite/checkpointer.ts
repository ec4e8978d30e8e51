import { Worker } from 'node:worker_threads';
import type { CheckpointerWorkerData } from './checkpointer-worker.js';

/** How often the worker looks for new commits, in ms. */
export const POLL_MS = 200;

/**
 * The worker's module: compiled beside this file in dist/; from src/ (vitest) the .ts itself,
 * started through lib/source-worker.ts (that loader needs a larger heap than the worker's own work).
 */
const FROM_SOURCE = import.meta.url.endsWith('.ts');
const WORKER_URL = FROM_SOURCE
  ? new URL('../../lib/source-worker.ts', import.meta.url)
  : new URL('./checkpointer-worker.js', import.meta.url);
const SOURCE_ENTRY = new URL('./checkpointer-worker.ts', import.meta.url).href;

/**
 * Copies the write-ahead log back into the database file on a worker thread. SQLite's automatic
 * checkpoint runs inside the COMMIT that crosses its threshold, on the committing connection:
 * after a 1M-row upload that is ~100 MB copied and synced while the event loop, and every request
 * with it, waits (seconds at 10M rows). The writer connection turns it off once this has started.
 */
export class Checkpointer {
  private constructor(private readonly worker: Worker) {}

  /**
   * Starts the worker for a database file; undefined when it cannot (the caller keeps SQLite's
   * own). `walLimit`: WAL bytes past which it truncates the log (see checkpointer-worker.ts).
   */
  static start(path: string, walLimit = Number.MAX_SAFE_INTEGER): Checkpointer | undefined {
    try {
      const workerData: CheckpointerWorkerData = { path, pollMs: POLL_MS, walLimit };
      const worker = new Worker(WORKER_URL, {
        workerData: FROM_SOURCE ? { ...workerData, sourceEntry: SOURCE_ENTRY } : workerData,
        ...(FROM_SOURCE ? { execArgv: ['--disable-warning=ExperimentalWarning'] } : {}),
        // A small heap: the worker only runs pragmas.
        resourceLimits: { maxYoungGenerationSizeMb: FROM_SOURCE ? 4 : 1, maxOldGenerationSizeMb: FROM_SOURCE ? 96 : 8 },
      });
      worker.unref();
      return new Checkpointer(worker);
    } catch {
      return undefined;
    }
  }

  /** Registers what to do if the worker dies (turn SQLite's own checkpoints back on). */
  onFailure(fn: (error: unknown) => void): void {
    this.worker.once('error', fn);
  }

  /**
   * Holds checkpoints back while `work` runs (a big load's index build, which the upload's answer
   * waits for: a checkpoint copying a gigabyte of WAL meanwhile would compete for the disk and the
   * cores), then lets them go on.
   */
  async holdDuring<T>(work: () => Promise<T>): Promise<T> {
    this.worker.postMessage('pause');
    try {
      return await work();
    } finally {
      this.worker.postMessage('resume');
    }
  }

  /** Stops the worker and closes its connection. */
  async stop(): Promise<void> {
    const exited = new Promise<void>((resolve) => this.worker.once('exit', () => resolve()));
    this.worker.postMessage('stop');
    const timer = setTimeout(() => void this.worker.terminate(), 5000);
    await exited;
    clearTimeout(timer);
  }
}
