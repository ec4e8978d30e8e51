/**
 * WAL checkpoints on a connection of their own, run from a worker thread's event loop (the load
 * worker's, or the checkpointer's): a PASSIVE checkpoint whenever another connection has
 * committed (data_version moved) or the last one could not copy everything (a reader held a
 * snapshot).
 *
 * Once the WAL file is past `walLimit`, a TRUNCATE checkpoint instead: under sustained writes a
 * passive one never finds the log wholly copied at the moment a writer starts (when SQLite
 * restarts it), so the file would grow without end. Without a busy handler TRUNCATE never waits:
 * with a writer or a reader in its way it does what PASSIVE does, and is tried again next tick.
 */
import { statSync } from 'node:fs';
import Database from 'better-sqlite3';

export interface CheckpointOptions {
  path: string;
  pollMs: number;
  /** WAL bytes past which the log is truncated (see above). */
  walLimit: number;
}

export interface Checkpoints {
  /** Holds checkpoints back (a big load's index build is running) or lets them go on. */
  pause(paused: boolean): void;
  stop(): void;
}

interface CheckpointResult {
  busy: number;
  log: number;
  checkpointed: number;
}

export function startCheckpoints({ path, pollMs, walLimit }: CheckpointOptions): Checkpoints {
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
  return {
    pause: (value) => {
      paused = value;
    },
    stop: () => {
      clearInterval(timer);
      db.close();
    },
  };
}
