/**
 * The index builder's thread (see index-builder.ts): its own connection runs the CREATE INDEX
 * statements in one transaction and posts an IndexBuildResult when it is done.
 *
 * Runs from dist/ compiled, and from src/ (vitest) through Node's type stripping: erasable
 * TypeScript only, and no imports of the project's own files.
 */
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';

export interface IndexBuilderWorkerData {
  path: string;
  busyTimeoutMs: number;
  cacheSize: number;
  sortThreads: number;
  statements: readonly string[];
}

export type IndexBuildResult = { ok: true } | { ok: false; message: string; code?: string };

const port = parentPort;
if (port === null) throw new Error('index-builder-worker runs on a worker thread');
const data = workerData as IndexBuilderWorkerData;
const db = new Database(data.path, { fileMustExist: true });
try {
  db.pragma(`busy_timeout = ${data.busyTimeoutMs}`);
  // As the writer's: in WAL mode NORMAL syncs at checkpoints, not at every commit (FULL would sync
  // the hundreds of megabytes of index pages this commit appends to the WAL).
  db.pragma('synchronous = NORMAL');
  db.pragma(`cache_size = ${data.cacheSize}`);
  db.pragma(`threads = ${data.sortThreads}`);
  db.transaction(() => {
    for (const sql of data.statements) db.exec(sql);
  }).immediate();
  port.postMessage({ ok: true } satisfies IndexBuildResult);
} catch (error) {
  const { message, code } = error as { message?: unknown; code?: unknown };
  const result: IndexBuildResult = {
    ok: false,
    message: typeof message === 'string' ? message : String(error),
    ...(typeof code === 'string' ? { code } : {}),
  };
  port.postMessage(result);
} finally {
  db.close();
}
