/**
 * The checkpointer's thread (see checkpointer.ts), for a store whose uploads do not run on the
 * load worker (which runs the same checkpoints itself): checkpoint-loop.ts on its own event
 * loop. Messages: `pause`, `resume`, anything else stops it.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { startCheckpoints, type CheckpointOptions } from './checkpoint-loop.js';

export type CheckpointerWorkerData = CheckpointOptions;

const port = parentPort;
if (port === null) throw new Error('checkpointer-worker runs on a worker thread');
const checkpoints = startCheckpoints(workerData as CheckpointerWorkerData);
port.on('message', (message: unknown) => {
  if (message === 'pause' || message === 'resume') return checkpoints.pause(message === 'pause');
  checkpoints.stop();
  port.close();
});
