/**
 * The error catalogue: every error the API answers with, its HTTP status and default message.
 * Every 4xx/5xx body has the shape `{ error, message, details? }`.
 */
export const ERRORS = {
  BAD_REQUEST: { status: 400, message: 'The request is invalid' },
  VALIDATION_FAILED: { status: 400, message: 'The request does not match its schema' },
  FILE_MISSING: { status: 400, message: 'No file was sent' },
  FILE_EMPTY: { status: 400, message: 'The file holds no rows' },
  MULTIPART_MALFORMED: { status: 400, message: 'The multipart body is malformed' },
  SOURCE_INVALID: { status: 400, message: 'Not an import source: use s3://bucket/key or file:NAME' },
  CSV_MALFORMED: { status: 400, message: 'The CSV is malformed' },
  ROWS_INVALID: { status: 400, message: 'Some rows are invalid; nothing was inserted' },
  BACKUP_INVALID: { status: 400, message: 'The file is not a valid Avro backup; nothing was restored' },
  BACKUP_NAME_INVALID: { status: 400, message: 'Not a backup name: use a name from GET /backups' },
  SCHEMA_MISMATCH: { status: 400, message: "The file's schema does not match the table's; nothing was restored" },
  UNAUTHORIZED: { status: 401, message: 'A valid API key is required: Authorization: Bearer <key>' },
  FORBIDDEN: { status: 403, message: 'This API key is not allowed to do that' },
  NOT_FOUND: { status: 404, message: 'Not found' },
  TABLE_NOT_FOUND: { status: 404, message: 'Unknown table' },
  UPLOAD_NOT_FOUND: { status: 404, message: 'Unknown upload' },
  BACKUP_NOT_FOUND: { status: 404, message: 'No backup of that name in the backup folder' },
  REQUEST_TIMEOUT: { status: 408, message: 'The request took too long to arrive; nothing was written' },
  IMPORT_NOT_FOUND: { status: 404, message: 'Unknown import job' },
  DIRECT_UPLOAD_UNAVAILABLE: { status: 404, message: 'This server has no IMPORT_BUCKET: upload the file with POST /upload/{table}' },
  IMPORT_FINISHED: { status: 409, message: 'The import job has already ended; there is nothing to cancel' },
  IDEMPOTENCY_IN_PROGRESS: { status: 409, message: 'A request with this Idempotency-Key is still running; retry later' },
  DUPLICATE_ID: { status: 409, message: 'A row with this id already exists; nothing was inserted' },
  PAYLOAD_TOO_LARGE: { status: 413, message: 'The body is larger than the configured limit' },
  IDEMPOTENCY_KEY_REUSED: { status: 422, message: 'This Idempotency-Key was used with a different request' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, message: 'Unsupported Content-Type' },
  TOO_MANY_REQUESTS: { status: 429, message: 'Too many requests; retry later' },
  CLIENT_CLOSED: { status: 499, message: 'The client closed the connection' },
  INTERNAL: { status: 500, message: 'Internal server error' },
  DATABASE_UNAVAILABLE: { status: 503, message: 'The database is unavailable; retry later' },
  DATABASE_READ_ONLY: { status: 503, message: 'The database cannot be written (read-only or disk full); retry later' },
  IMPORT_BUCKET_UNAVAILABLE: { status: 503, message: 'The import bucket cannot be used; retry later' },
  BUSY: { status: 503, message: 'The server is busy with other writes; nothing was done; retry later' },
  SHUTTING_DOWN: { status: 503, message: 'The server is shutting down; retry shortly' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ERRORS;

export interface ErrorBody {
  error: ErrorCode;
  message: string;
  details?: unknown;
}

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly statusCode: number;
  readonly details?: unknown;
  /** Seconds for a Retry-After header (503, 429). */
  readonly retryAfter?: number;

  constructor(code: ErrorCode, message?: string, details?: unknown, retryAfter?: number) {
    super(message ?? ERRORS[code].message);
    this.name = 'AppError';
    this.code = code;
    this.statusCode = ERRORS[code].status;
    this.details = details;
    this.retryAfter = retryAfter;
  }

  toBody(): ErrorBody {
    return this.details === undefined
      ? { error: this.code, message: this.message }
      : { error: this.code, message: this.message, details: this.details };
  }
}

export const isAppError = (e: unknown): e is AppError => e instanceof AppError;

/** A request body ended before it should have: the client went away (an upload, a restore: 499, rolled back). */
export class SourceAbortedError extends Error {}
