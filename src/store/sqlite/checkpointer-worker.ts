/**
 * The checkpointer's thread (see checkpointer.ts): its own connection, a PASSIVE checkpoint
 * whenever another connection has committed (data_version moved) or the last one could not copy
 * everything (a reader held a snapshot). Messages: `pause`, `resume`, anything else stops it.
 *
 * Runs from dist/ compiled, and from src/ (vitest) through Node's type stripping: erasable
 * TypeScript only, and no imports of the project's own files.
 */
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';

export interface CheckpointerWorkerData {
  path: string;
  pollMs: number;
}

interface CheckpointResult {
  busy: number;
  log: number;
  checkpointed: number;
}

const port = parentPort;
if (port === null) throw new Error('checkpointer-worker runs on a worker thread');
const { path, pollMs } = workerData as CheckpointerWorkerData;
const db = new Database(path, { fileMustExist: true });
db.pragma('busy_timeout = 0');
let seen = -1;
let behind = false;
let paused = false;

const tick = (): void => {
  if (paused) return;
  try {
    const version = db.pragma('data_version', { simple: true }) as number;
    if (version === seen && !behind) return;
    seen = version;
    const [result] = db.pragma('wal_checkpoint(PASSIVE)') as CheckpointResult[];
    behind = result === undefined || result.busy !== 0 || result.checkpointed < result.log;
  } catch {
    behind = true; // SQLITE_BUSY: another checkpoint is running; try again next time.
  }
};

const timer = setInterval(tick, pollMs);
port.on('message', (message: unknown) => {
  if (message === 'pause' || message === 'resume') {
    paused = message === 'pause';
    return;
  }
  clearInterval(timer);
  db.close();
  port.close();
});
