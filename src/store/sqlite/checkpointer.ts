import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/** How often the worker looks for new commits, in ms. */
const POLL_MS = 200;

// Plain JavaScript evaluated in the worker (so it runs the same from src/ under vitest and from
// dist/): its own connection, a PASSIVE checkpoint whenever another connection has committed
// (data_version moved) or the last one could not copy everything (a reader held a snapshot).
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.path, { fileMustExist: true });
db.pragma('busy_timeout = 0');
let seen = -1;
let behind = false;
let paused = false;
const tick = () => {
  if (paused) return;
  try {
    const version = db.pragma('data_version', { simple: true });
    if (version === seen && !behind) return;
    seen = version;
    const [result] = db.pragma('wal_checkpoint(PASSIVE)');
    behind = result.busy !== 0 || result.checkpointed < result.log;
  } catch {
    behind = true; // SQLITE_BUSY: another checkpoint is running; try again next time.
  }
};
const timer = setInterval(tick, workerData.pollMs);
parentPort.on('message', (message) => {
  if (message === 'pause' || message === 'resume') {
    paused = message === 'pause';
    return;
  }
  clearInterval(timer);
  db.close();
  parentPort.close();
});
`;

/**
 * Copies the write-ahead log back into the database file on a worker thread. SQLite's automatic
 * checkpoint runs inside the COMMIT that crosses its threshold, on the committing connection:
 * after a 1M-row upload that is ~100 MB copied and synced while the event loop, and every request
 * with it, waits (seconds at 10M rows). The writer connection turns it off once this has started.
 */
export class Checkpointer {
  private constructor(private readonly worker: Worker) {}

  /** Starts the worker for a database file; undefined when it cannot (the caller keeps SQLite's own). */
  static start(path: string): Checkpointer | undefined {
    try {
      const driver = createRequire(import.meta.url).resolve('better-sqlite3');
      const worker = new Worker(WORKER, {
        eval: true,
        workerData: { path, driver, pollMs: POLL_MS },
        // A small heap: the worker only runs pragmas.
        resourceLimits: { maxYoungGenerationSizeMb: 1, maxOldGenerationSizeMb: 8 },
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
