import { Type, type Static } from 'typebox';
import { Value } from 'typebox/value';

/** Every environment variable the service reads, with its default. `.env.example` lists the same. */
export const ConfigSchema = Type.Object({
  PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 8000 }),
  HOST: Type.String({ default: '127.0.0.1' }),
  DATABASE_URL: Type.String({ default: 'sqlite:./var/hr.db' }),
  /** One key, or several separated by commas (rotation). Empty: writes are open. */
  API_KEY: Type.String({ default: '' }),
  /** Lets the server bind a non-loopback address without API_KEY. */
  ALLOW_NO_AUTH: Type.Boolean({ default: false }),
  LOG_LEVEL: Type.Union(
    [
      Type.Literal('fatal'),
      Type.Literal('error'),
      Type.Literal('warn'),
      Type.Literal('info'),
      Type.Literal('debug'),
      Type.Literal('trace'),
      Type.Literal('silent'),
    ],
    { default: 'info' },
  ),
  /** Largest CSV body accepted by /upload, in bytes (default 1 GiB). */
  UPLOAD_MAX_BYTES: Type.Integer({ minimum: 1, default: 1024 ** 3 }),
  /** Largest JSON body accepted by /batch, in bytes. */
  JSON_BODY_MAX_BYTES: Type.Integer({ minimum: 1, default: 1024 ** 2 }),
  /** Longest CSV record, in characters. */
  CSV_MAX_RECORD_BYTES: Type.Integer({ minimum: 16, default: 64 * 1024 }),
  /** Rows per batch request. */
  BATCH_MAX_ROWS: Type.Integer({ minimum: 1, default: 1000 }),
  /** PostgreSQL pool size. */
  PG_POOL_MAX: Type.Integer({ minimum: 1, default: 10 }),
  /** How long SIGTERM waits for in-flight requests before rolling them back, in ms. */
  SHUTDOWN_GRACE_MS: Type.Integer({ minimum: 0, default: 10_000 }),
  /** Where POST /backup writes its files. */
  BACKUP_DIR: Type.String({ default: './var/backups' }),
  /** Browser origins allowed to call the API (CORS), comma-separated; empty: none (closed). */
  CORS_ORIGINS: Type.String({ default: '' }),
  /** Writes (POST /upload, /batch, /reset-db) per client address and minute; beyond, 429 with Retry-After. */
  RATE_LIMIT_WRITES_PER_MINUTE: Type.Integer({ minimum: 1, default: 600 }),
  /**
   * Which proxies' X-Forwarded-For to believe for the client address (rate limit, logs): empty or
   * `false` none, `true` any, a hop count, or comma-separated addresses/CIDRs.
   */
  TRUST_PROXY: Type.String({ default: '' }),
  /** Longest time to receive a whole request, body included, in ms; beyond, 408 and the connection closed. */
  REQUEST_TIMEOUT_MS: Type.Integer({ minimum: 1000, default: 3_600_000 }),
  /** Longest time to receive a request's headers, in ms (slow-loris); beyond, 408. */
  HEADERS_TIMEOUT_MS: Type.Integer({ minimum: 1000, default: 30_000 }),
  /** Longest wait for the next bytes of an upload's body, in ms; beyond, 408 and the upload rolled back. */
  UPLOAD_IDLE_TIMEOUT_MS: Type.Integer({ minimum: 100, default: 30_000 }),
  /** How long a SQLite write waits for another process's lock before answering 503, in ms. */
  SQLITE_BUSY_TIMEOUT_MS: Type.Integer({ minimum: 0, default: 5000 }),
  /** A SQLite file: uploads insert on a worker thread of their own while the main thread parses (false: on the main thread). */
  SQLITE_LOAD_THREAD: Type.Boolean({ default: true }),
  /** Most fields in one CSV record; a record with more makes the upload a 400 (CSV_MALFORMED). */
  CSV_MAX_FIELDS: Type.Integer({ minimum: 1, default: 1000 }),
  /** A streamed download (backup, rejects.csv, report) that makes no progress for this long is cut, in ms. */
  DOWNLOAD_IDLE_TIMEOUT_MS: Type.Integer({ minimum: 100, default: 30_000 }),
  /** Longest wait of a write for its turn (writer lock, table lock, slot) before 503 BUSY, in ms. */
  WRITE_QUEUE_TIMEOUT_MS: Type.Integer({ minimum: 1, default: 30_000 }),
  /** How long a stored Idempotency-Key answer is kept, in hours. */
  IDEMPOTENCY_TTL_HOURS: Type.Number({ exclusiveMinimum: 0, default: 24 }),
  /** With API_KEY set: the reports and /tables stay open without a key unless this is false. */
  PUBLIC_REPORTS: Type.Boolean({ default: true }),
  /** The server's import folder (`file:NAME` sources, body-less POST /upload); empty: none. */
  IMPORT_DIR: Type.String({ default: '' }),
  /** S3 bucket for presigned direct uploads (POST /imports/upload-url); empty: none. */
  IMPORT_BUCKET: Type.String({ default: '' }),
  /** Key prefix of presigned uploads inside IMPORT_BUCKET. */
  IMPORT_PREFIX: Type.String({ default: 'imports/' }),
  /** Import jobs one instance runs at once; 0: this instance queues and answers, others run them. */
  IMPORT_CONCURRENCY: Type.Integer({ minimum: 0, default: 1 }),
  /** A job that met a busy table or a transient failure is queued again after this, in ms. */
  IMPORT_RETRY_MS: Type.Integer({ minimum: 0, default: 5000 }),
  /** Bytes per ranged S3 GetObject of an import (each range is checked against the object's ETag). */
  IMPORT_RANGE_BYTES: Type.Integer({ minimum: 65_536, default: 16 * 1024 * 1024 }),
  /** An import job whose instance has not renewed its lease for this long is taken up again, in ms. */
  IMPORT_LEASE_MS: Type.Integer({ minimum: 1000, default: 30_000 }),
  /** An S3-compatible endpoint (MinIO, s3rver, LocalStack); set: path-style addressing. Empty: AWS. */
  AWS_ENDPOINT_URL_S3: Type.String({ default: '' }),
});

export type Config = Static<typeof ConfigSchema>;

/** Reads the configuration from an environment (process.env by default), with defaults and coercion. */
export function loadConfig(env: Record<string, string | undefined> = process.env, overrides: Partial<Config> = {}): Config {
  const keys = Object.keys(ConfigSchema.properties);
  const picked: Record<string, unknown> = {};
  for (const key of keys) if (env[key] !== undefined && env[key] !== '') picked[key] = env[key];
  const withDefaults = Value.Default(ConfigSchema, Value.Convert(ConfigSchema, { ...picked, ...overrides }));
  if (!Value.Check(ConfigSchema, withDefaults)) {
    const problems = [...Value.Errors(ConfigSchema, withDefaults)].map((e) => `${e.instancePath || '/'} ${e.message}`);
    throw new Error(`Invalid configuration: ${problems.join('; ')}`);
  }
  return withDefaults;
}

/** The API keys configured, trimmed; empty when writes are open. */
export const apiKeys = (config: Config): string[] =>
  config.API_KEY.split(',')
    .map((k) => k.trim())
    .filter((k) => k !== '');

/** TRUST_PROXY as Fastify's `trustProxy` option. */
export function trustProxy(config: Config): boolean | string[] | ((address: string, hop: number) => boolean) {
  const value = config.TRUST_PROXY.trim();
  if (value === '' || value === 'false') return false;
  if (value === 'true') return true;
  if (/^\d+$/.test(value)) {
    const hops = Number(value);
    return (_address, hop) => hop < hops;
  }
  return value
    .split(',')
    .map((v) => v.trim())
    .filter((v) => v !== '');
}

/** The browser origins CORS_ORIGINS allows; empty when CORS is closed. */
export const corsOrigins = (config: Config): string[] =>
  config.CORS_ORIGINS.split(',')
    .map((o) => o.trim().replace(/\/+$/, ''))
    .filter((o) => o !== '');
