import { Worker } from 'node:worker_threads';
import { AppError } from '../../errors.js';
import type { LoadReply, LoadRequest, LoadWorkerData } from './load-worker.js';
import { fromWire } from './wire-error.js';

/**
 * The worker's module: compiled beside this file in dist/; from src/ (vitest) the .ts itself,
 * started through lib/source-worker.ts, which lets it import the project's other files.
 */
const FROM_SOURCE = import.meta.url.endsWith('.ts');
const WORKER_URL = FROM_SOURCE ? new URL('../../lib/source-worker.ts', import.meta.url) : new URL('./load-worker.js', import.meta.url);
const SOURCE_ENTRY = new URL('./load-worker.ts', import.meta.url).href;

/** A request as the caller makes it: the thread numbers it. */
type Request = LoadRequest extends infer R ? (R extends LoadRequest ? Omit<R, 'id'> : never) : never;

/**
 * The SQLite load worker seen from the main thread: requests posted in order, each answered by a
 * promise. Only one thread per store and one load at a time on it (the store's writer turn).
 * The thread keeps the event loop alive only while a request waits for its answer.
 */
export class LoadThread {
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  private stopped: Error | undefined;
  private readonly stopHandlers: (() => void)[] = [];

  private constructor(private readonly worker: Worker) {
    worker.on('message', (reply: LoadReply) => this.answer(reply));
    worker.on('error', (error) => this.stop(error));
    worker.on('exit', (code) => this.stop(new Error(`the load worker exited with code ${code}`)));
    worker.unref();
  }

  /** Starts the thread for a database file; throws when it cannot (the store then loads on its own connection). */
  static start(data: LoadWorkerData): LoadThread {
    const worker = new Worker(WORKER_URL, {
      workerData: FROM_SOURCE ? { ...data, sourceEntry: SOURCE_ENTRY } : data,
      // Its heap holds a few chunks of rows and a load's hire counts; from src/, the TypeScript
      // transform too (and its experimental warning, which is not the project's to print).
      resourceLimits: { maxYoungGenerationSizeMb: 4, maxOldGenerationSizeMb: FROM_SOURCE ? 96 : 32 },
      ...(FROM_SOURCE ? { execArgv: ['--disable-warning=ExperimentalWarning'] } : {}),
    });
    return new LoadThread(worker);
  }

  /** Registers what to do once the thread has stopped (turn SQLite's own checkpoints back on). */
  onStop(fn: () => void): void {
    if (this.stopped !== undefined) fn();
    else this.stopHandlers.push(fn);
  }

  /** False once the thread has stopped (it crashed, ran out of heap, or was closed). */
  get alive(): boolean {
    return this.stopped === undefined;
  }

  /** Posts a request; `transfer`: buffers moved to the thread, not copied. */
  send<T>(request: Request, transfer: ArrayBuffer[] = []): { id: number; answer: Promise<T> } {
    const id = this.nextId++;
    const answer = new Promise<T>((resolve, reject) => {
      if (this.stopped !== undefined) return reject(this.stopped);
      if (this.waiting.size === 0) this.worker.ref();
      this.waiting.set(id, { resolve: resolve as (value: unknown) => void, reject });
      this.worker.postMessage({ ...request, id }, transfer);
    });
    return { id, answer };
  }

  call<T>(request: Request, transfer?: ArrayBuffer[]): Promise<T> {
    return this.send<T>(request, transfer).answer;
  }

  /** Rolls back what is open and ends the thread. */
  async close(): Promise<void> {
    if (this.stopped !== undefined) return;
    const exited = new Promise<void>((resolve) => this.worker.once('exit', () => resolve()));
    await this.call({ op: 'close' }).catch(() => undefined);
    // The thread ends once its port is closed; a thread that does not is ended.
    const timer = setTimeout(() => void this.worker.terminate(), 1000);
    await exited;
    clearTimeout(timer);
  }

  /** Ends the thread at once (its connection's open transaction is rolled back as it closes). */
  async terminate(): Promise<void> {
    await this.worker.terminate();
  }

  private answer(reply: LoadReply): void {
    const waiter = this.waiting.get(reply.id);
    if (waiter === undefined) return;
    this.waiting.delete(reply.id);
    if (this.waiting.size === 0) this.worker.unref();
    if (reply.ok) waiter.resolve(reply.value);
    else waiter.reject(fromWire(reply.error));
  }

  private stop(error: Error): void {
    if (this.stopped !== undefined) return;
    // What a caller sees: the writer went away, the transaction with it; retrying may succeed.
    this.stopped = new AppError(
      'DATABASE_UNAVAILABLE',
      'The database writer stopped; nothing of this write was kept; retry',
      { cause: error.message },
      1,
    );
    for (const waiter of this.waiting.values()) waiter.reject(this.stopped);
    this.waiting.clear();
    for (const fn of this.stopHandlers.splice(0)) fn();
  }
}
