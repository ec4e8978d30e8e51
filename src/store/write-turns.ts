import { AppError } from '../errors.js';

/** How a write waits for its turn (SQLite's writer, a PostgreSQL slot). */
export interface TurnWait {
  /** Milliseconds to wait at most; beyond, 503 BUSY. Undefined: as long as it takes. */
  timeoutMs?: number;
  /** Aborts when the client that asked has gone: the wait ends with CLIENT_CLOSED, nothing done. */
  signal?: AbortSignal;
  /** What is waited for, for the message (`the writer`, `a write slot`). */
  what?: string;
}

/** Seconds a client told BUSY should wait before it retries. */
export const BUSY_RETRY_AFTER_S = 2;

/** A write that waited its whole deadline: nothing was done, try again later. */
export const busy = (what: string, ms: number): AppError =>
  new AppError('BUSY', `Waited ${ms} ms for ${what}; nothing was done; retry later`, undefined, BUSY_RETRY_AFTER_S);

/** The client left before its write started: it is not executed. */
export const clientGone = (): AppError => new AppError('CLIENT_CLOSED', 'The client went away before its write started; nothing was done');

/** Throws CLIENT_CLOSED when the signal says the client has gone. */
export function throwIfGone(signal: AbortSignal | undefined): void {
  if (signal?.aborted === true) throw clientGone();
}

interface Waiter {
  grant(): void;
}

/**
 * A counting semaphore whose waiters keep arrival order and can give up: `size` holders at a
 * time (1: a FIFO lock), a waiter leaving on its deadline (BUSY) or when its client goes
 * (CLIENT_CLOSED) without ever holding a turn.
 */
export class Turns {
  private readonly waiting: Waiter[] = [];
  private free: number;

  constructor(readonly size: number) {
    this.free = size;
  }

  /** Resolves with a release function (safe to call twice) once a turn is free. */
  async acquire(wait: TurnWait = {}): Promise<() => void> {
    throwIfGone(wait.signal);
    if (this.free > 0) this.free--;
    else await this.enqueue(wait);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiting.shift();
      if (next === undefined) this.free++;
      else next.grant();
    };
  }

  /** Runs `fn` holding a turn. */
  async run<T>(fn: () => Promise<T> | T, wait: TurnWait = {}): Promise<T> {
    const release = await this.acquire(wait);
    try {
      return await fn();
    } finally {
      release();
    }
  }

  private enqueue(wait: TurnWait): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const leave = (error: AppError): void => {
        const at = this.waiting.indexOf(waiter);
        if (at >= 0) this.waiting.splice(at, 1);
        cleanup();
        reject(error);
      };
      const onAbort = (): void => leave(clientGone());
      const cleanup = (): void => {
        clearTimeout(timer);
        wait.signal?.removeEventListener('abort', onAbort);
      };
      const waiter: Waiter = {
        grant: () => {
          cleanup();
          resolve();
        },
      };
      this.waiting.push(waiter);
      if (wait.timeoutMs !== undefined) {
        const ms = wait.timeoutMs;
        timer = setTimeout(() => leave(busy(wait.what ?? 'a write turn', ms)), ms);
      }
      wait.signal?.addEventListener('abort', onAbort, { once: true });
    });
  }
}
