/**
 * The checkpointer's thread (see checkpointer.ts): its own connection, a PASSIVE checkpoint
 * whenever another connection has committed (data_version moved) or the last one could not copy
 * everything (a reader held a snapshot). Messages: `pause`, `resume`, anything else stops it.
 *
 * Once the WAL file is past `walLimit`, a TRUNCATE checkpoint instead: under sustained writes a
 * passive one never finds the log wholly copied at the moment a writer starts (when SQLite
 * restarts it), so the file would grow without end. Without a busy handler TRUNCATE never waits:
 * with a writer or a reader in its way it does what PASSIVE does, and is tried again next tick.
 *
 * Runs from dist/ compiled, and from src/ (vitest) through Node's type stripping: erasable
 * TypeScript only, and no imports of the project's own files.
 */
import { statSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';

export interface CheckpointerWorkerData {
  path: string;
  pollMs: number;
  /** WAL bytes past which the log is truncated (see above). */
  walLimit: number;
}

interface CheckpointResult {
  busy: number;
  log: number;
  checkpointed: number;
}

const port = parentPort;
if (port === null) throw new Error('checkpointer-worker runs on a worker thread');
const { path, pollMs, walLimit } = workerData as CheckpointerWorkerData;
const db = new Database(path, { fileMustExist: true });
db.pragma('busy_timeout = 0');
let seen = -1;
let behind = false;
let paused = false;

const walBytes = (): number => {
  try {
    return statSync(`${path}-wal`).size;
  } catch {
    return 0;
  }
};

const tick = (): void => {
  if (paused) return;
  try {
    const version = db.pragma('data_version', { simple: true }) as number;
    if (version === seen && !behind) return;
    seen = version;
    const mode = walBytes() > walLimit ? 'TRUNCATE' : 'PASSIVE';
    const [result] = db.pragma(`wal_checkpoint(${mode})`) as CheckpointResult[];
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
