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
