import { AppError } from '../../errors.js';

/** Socket-level failures: the server is down, unreachable or went away. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
]);

/** node-pg reports a dropped connection or a pool timeout with a message, not a code. */
const CONNECTION_MESSAGES = [
  'Connection terminated',
  'connection error and is not queryable',
  'Client was closed and is not queryable',
  'timeout exceeded when trying to connect',
  'Cannot use a pool after calling end on the pool',
];

type Failure = 'connection' | 'contended' | 'read-only';

function classify(error: unknown): Failure | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const { code, message } = error as { code?: unknown; message?: unknown };
  if (typeof code === 'string') {
    if (NETWORK_CODES.has(code)) return 'connection';
    // 08: connection exception; 57P01/02/03: admin or crash shutdown, starting up; 53300: too many connections.
    if (code.startsWith('08') || code === '57P01' || code === '57P02' || code === '57P03' || code === '53300') return 'connection';
    // Deadlock, serialization failure, lock not available, statement cancelled: try again shortly.
    if (code === '40P01' || code === '40001' || code === '55P03' || code === '57014') return 'contended';
    // A read-only transaction (a replica, a failover in progress), a full disk.
    if (code === '25006' || code === '53100') return 'read-only';
  }
  if (typeof message === 'string' && CONNECTION_MESSAGES.some((m) => message.includes(m))) return 'connection';
  return undefined;
}

/**
 * Maps PostgreSQL and node-pg failures that are the database's state, not the request's, to
 * 503s with a Retry-After; anything else is returned unchanged (a bug: the handler answers 500).
 */
export function mapPgError(error: unknown): unknown {
  if (error instanceof AppError) return error;
  switch (classify(error)) {
    case 'connection':
      return new AppError('DATABASE_UNAVAILABLE', undefined, undefined, 5);
    case 'contended':
      return new AppError('DATABASE_UNAVAILABLE', 'The database is busy; retry later', undefined, 1);
    case 'read-only':
      return new AppError('DATABASE_READ_ONLY', undefined, undefined, 30);
    default:
      return error;
  }
}

/** The connection an error came from is gone: destroy it rather than return it to the pool. */
export const isConnectionLoss = (error: unknown): boolean => classify(error) === 'connection';
