import { AppError } from '../../errors.js';

/** Maps SQLite failures that are the database's state, not the request's, to 503s. */
export function mapSqliteError(error: unknown): unknown {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== 'string' || !code.startsWith('SQLITE_')) return error;
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) {
    return new AppError('DATABASE_UNAVAILABLE', 'The database is busy; retry later', undefined, 1);
  }
  if (
    code.startsWith('SQLITE_READONLY') ||
    code.startsWith('SQLITE_FULL') ||
    code.startsWith('SQLITE_IOERR') ||
    code === 'SQLITE_CANTOPEN'
  ) {
    return new AppError('DATABASE_READ_ONLY', undefined, undefined, 30);
  }
  return error;
}
