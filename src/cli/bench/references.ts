import { spawn, spawnSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { WRITER_CACHE_SIZE } from '../../store/sqlite/sqlite-store.js';
import { TABLES } from '../../tables.js';
import { freshPostgres, freshSqlite, migrate, type FreshDatabase } from './databases.js';

/** A database's own bulk loader, timed as one command into a fresh database of the same schema. */
export interface Reference {
  tool: string;
  version: string;
  /** Times one load of `file` into a fresh database; returns milliseconds and the rows stored. */
  load(file: string): Promise<{ ms: number; rows: number; cpu_s?: number }>;
}

export const COLUMNS = TABLES.hired_employees.columns.map((c) => c.name);

/** A file name as an SQL string literal (sqlite3 `.import`, psql `\copy`). */
export const quoted = (file: string): string => `'${file.replaceAll("'", "''")}'`;

/** Rows of hired_employees in a SQLite file, as a tool left them. */
export const sqliteRows = async (where: string): Promise<number> =>
  Number((await run('sqlite3', [where], 'SELECT COUNT(*) FROM hired_employees;')).trim());

/** Rows of hired_employees behind a PostgreSQL URL, as a tool left them. */
export const postgresRows = async (url: string): Promise<number> =>
  Number((await run('psql', [url, '-X', '-A', '-t', '-c', 'SELECT COUNT(*) FROM hired_employees'], '')).trim());

/** Times `load` alone (the set-up before it is not counted), then counts the rows it stored. */
export async function timed<T>(load: () => Promise<T>, count: () => Promise<number>): Promise<{ ms: number; rows: number; out: T }> {
  const started = performance.now();
  const out = await load();
  const ms = performance.now() - started;
  return { ms, rows: await count(), out };
}

export function version(command: string): string | undefined {
  const result = spawnSync(command, ['--version'], { encoding: 'utf8' });
  return result.status === 0 ? result.stdout.trim().split('\n')[0] : undefined;
}

export function run(command: string, args: string[], input: string, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'], env });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 && err.trim() === '' ? resolve(out) : reject(new Error(`${command} failed (${code}): ${err.trim()}`)),
    );
    child.stdin.end(input);
  });
}

/** The children's user and system times from bash's `times` (its last line), in seconds. */
function childCpuSeconds(output: string): number | undefined {
  const last = output.trim().split('\n').at(-1) ?? '';
  const times = [...last.matchAll(/(\d+)m([\d.]+)s/g)].map((m) => Number(m[1]) * 60 + Number(m[2]));
  return times.length === 2 ? times[0]! + times[1]! : undefined;
}

/**
 * `sqlite3` CLI: the schema of a migrated database (every table, index and trigger, from its
 * sqlite_master), WAL, synchronous=NORMAL and the page cache of the server's writer; then, timed as one command and one
 * transaction, `.import` into a temporary table and INSERT … SELECT NULLIF(…) so that empty
 * fields become NULL as the service stores them.
 */
export function sqliteReference(schema: string[]): Reference | string {
  const v = version('sqlite3');
  if (v === undefined) return 'sqlite3 not found: install it with `apt-get install sqlite3` (Debian/Ubuntu) or `brew install sqlite`';
  const staging = `CREATE TEMP TABLE staging (${COLUMNS.map((c) => `"${c}" TEXT`).join(', ')});`;
  const copy = `INSERT INTO hired_employees (${COLUMNS.map((c) => `"${c}"`).join(', ')}) SELECT ${COLUMNS.map((c) => `NULLIF("${c}", '')`).join(', ')} FROM temp.staging;`;
  return {
    tool: 'sqlite3 .import',
    version: v.split(' ')[0]!,
    load: async (file) => {
      const db = freshSqlite();
      try {
        await run('sqlite3', [db.where], `PRAGMA journal_mode = WAL;\n${schema.map((s) => `${s};`).join('\n')}\n`);
        const script = [
          'PRAGMA synchronous = NORMAL;',
          `PRAGMA cache_size = ${WRITER_CACHE_SIZE};`,
          'BEGIN;',
          staging,
          `.import --csv --schema temp ${quoted(file)} staging`,
          copy,
          'DROP TABLE temp.staging;',
          'COMMIT;',
        ].join('\n');
        // Through bash, whose `times` reports the CPU the sqlite3 child used.
        const { ms, rows, out } = await timed(
          () => run('bash', ['-c', 'sqlite3 "$1"; times', 'bash', db.where], script),
          () => sqliteRows(db.where),
        );
        return { ms, rows, cpu_s: childCpuSeconds(out) };
      } finally {
        await db.drop();
      }
    },
  };
}

/** `psql \copy … FROM file WITH (FORMAT csv)` into a fresh schema migrated by the service. */
export function postgresReference(baseUrl: string): Reference | string {
  const v = version('psql');
  if (v === undefined) return 'psql not found: install it with `apt-get install postgresql-client`';
  return {
    tool: 'psql \\copy',
    version: v.replace(/^psql \(PostgreSQL\) /, ''),
    load: async (file) => {
      const db: FreshDatabase = await freshPostgres(baseUrl);
      try {
        await migrate(db.url);
        const copy = `\\copy hired_employees (${COLUMNS.join(', ')}) FROM ${quoted(file)} WITH (FORMAT csv)`;
        const { ms, rows } = await timed(
          () => run('psql', [db.url, '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-c', copy], ''),
          () => postgresRows(db.url),
        );
        return { ms, rows };
      } finally {
        await db.drop();
      }
    },
  };
}
