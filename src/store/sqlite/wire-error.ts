import { AppError, isAppError, type ErrorCode } from '../../errors.js';

/** An error as it crosses between the main thread and the load worker (structured clone keeps no class). */
export interface WireError {
  message: string;
  code?: string;
  app?: { code: string; details?: unknown; retryAfter?: number };
}

/** Enough to throw the same AppError on the other side, or an Error with its SQLite code. */
export function toWire(error: unknown): WireError {
  const { message, code } = error as { message?: unknown; code?: unknown };
  const text = typeof message === 'string' ? message : String(error);
  if (isAppError(error)) return { message: text, app: { code: error.code, details: error.details, retryAfter: error.retryAfter } };
  return { message: text, ...(typeof code === 'string' ? { code } : {}) };
}

export function fromWire(error: WireError): Error {
  if (error.app !== undefined) return new AppError(error.app.code as ErrorCode, error.message, error.app.details, error.app.retryAfter);
  return Object.assign(new Error(error.message), error.code === undefined ? {} : { code: error.code });
}
