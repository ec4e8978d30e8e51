import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { TABLES } from '../../tables.js';
import { bareTable } from './bare-references.js';
import { freshPostgres, freshSqlite } from './databases.js';
import { run, version, type Reference } from './references.js';

const COLUMNS = TABLES.hired_employees.columns.map((c) => c.name);

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
        const started = performance.now();
        await tool('bash', ['-c', script, 'bash', db.where, file]);
        const ms = performance.now() - started;
        const rows = Number((await run('sqlite3', [db.where], 'SELECT COUNT(*) FROM hired_employees;')).trim());
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
        const started = performance.now();
        await tool('pgloader', ['--quiet', command]);
        const ms = performance.now() - started;
        const rows = Number((await run('psql', [db.url, '-X', '-A', '-t', '-c', 'SELECT COUNT(*) FROM hired_employees'], '')).trim());
        return { ms, rows };
      } finally {
        await db.drop();
      }
    },
  };
}
