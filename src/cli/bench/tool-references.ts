import { spawn } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { bareTable } from './bare-references.js';
import { freshPostgres, freshSqlite } from './databases.js';
import { COLUMNS, postgresRows, run, sqliteRows, timed, version, type Reference } from './references.js';

/** Runs a tool that logs to stderr as a matter of course: only the exit code says it failed. */
function tool(command: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    child.stdout.on('data', (c: Buffer) => (log += c.toString()));
    child.stderr.on('data', (c: Buffer) => (log += c.toString()));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${command} failed (${code}): ${log.trim().slice(-2000)}`))));
  });
}

/**
 * `sqlite-utils insert --csv --pk id --ignore --batch-size 10000`, the Python tool a user would
 * reach for. The generated file has no header line, so the header is piped in front of it (`cat`
 * costs a small part of the time).
 */
export function sqliteUtilsReference(): Reference | string {
  const v = version('sqlite-utils');
  if (v === undefined) return 'sqlite-utils not found: install it with `apt-get install sqlite-utils` or `pipx install sqlite-utils`';
  return {
    tool: 'sqlite-utils insert --csv',
    version: v.replace(/^.*version /, ''),
    load: async (file) => {
      const db = freshSqlite();
      try {
        const script = `{ echo '${COLUMNS.join(',')}'; cat "$2"; } | sqlite-utils insert "$1" hired_employees - --csv --pk id --ignore --batch-size 10000`;
        const { ms, rows } = await timed(
          () => tool('bash', ['-c', script, 'bash', db.where, file]),
          () => sqliteRows(db.where),
        );
        return { ms, rows };
      } finally {
        await db.drop();
      }
    },
  };
}

/** `pgloader` (CSV, batch rows = 25000) into the PK-only table in a fresh schema. */
export function pgloaderReference(baseUrl: string): Reference | string {
  const v = version('pgloader');
  if (v === undefined) return 'pgloader not found: install it with `apt-get install pgloader`';
  return {
    tool: 'pgloader (CSV, batch 25,000)',
    version: v.replace(/^pgloader version "?([^"]*)"?.*$/, '$1'),
    load: async (file) => {
      const db = await freshPostgres(baseUrl);
      try {
        await run('psql', [db.url, '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-c', bareTable()], '');
        const command = `${file}.${db.where}.load`;
        writeFileSync(
          command,
          [
            `LOAD CSV FROM '${file}' (${COLUMNS.join(', ')})`,
            `INTO ${baseUrl}?${db.where}.hired_employees (${COLUMNS.join(', ')})`,
            "WITH fields terminated by ',', fields optionally enclosed by '\"', batch rows = 25000;",
          ].join('\n'),
        );
        try {
          const { ms, rows } = await timed(
            () => tool('pgloader', ['--quiet', command]),
            () => postgresRows(db.url),
          );
          return { ms, rows };
        } finally {
          rmSync(command, { force: true });
        }
      } finally {
        await db.drop();
      }
    },
  };
}
