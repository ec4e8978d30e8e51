import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

// Plain JavaScript evaluated in the worker, as the checkpointer's: its own connection runs the
// CREATE INDEX statements in one transaction and says when it is done.
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.path, { fileMustExist: true });
try {
  db.pragma('busy_timeout = ' + workerData.busyTimeoutMs);
  // As the writer's: in WAL mode NORMAL syncs at checkpoints, not at every commit (FULL would sync
  // the hundreds of megabytes of index pages this commit appends to the WAL).
  db.pragma('synchronous = NORMAL');
  db.pragma('cache_size = ' + workerData.cacheSize);
  db.pragma('threads = ' + workerData.sortThreads);
  db.transaction(() => {
    for (const sql of workerData.statements) db.exec(sql);
  }).immediate();
  parentPort.postMessage({ ok: true });
} catch (error) {
  parentPort.postMessage({ ok: false, message: String(error && error.message || error), code: error && error.code });
} finally {
  db.close();
}
`;

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
    const driver = createRequire(import.meta.url).resolve('better-sqlite3');
    const worker = new Worker(WORKER, {
      eval: true,
      workerData: { ...options, driver, statements, sortThreads: SORT_THREADS },
      resourceLimits: { maxYoungGenerationSizeMb: 2, maxOldGenerationSizeMb: 16 },
    });
    let settled = false;
    worker.once('message', (result: { ok: boolean; message?: string; code?: string }) => {
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
