import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { ROOT } from '../helpers/server-process.js';
import { dump } from './setup.js';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'hr-backup-cli-'));

/** Runs a built command (dist/cli) on a SQLite file; never throws, answers its exit code and output. */
const cli = (script: string, args: string[], db: string) =>
  run(process.execPath, [`dist/cli/${script}.js`, ...args], {
    cwd: ROOT,
    env: { ...process.env, DATABASE_URL: `sqlite:${db}`, BACKUP_DIR: join(dir, 'default-backups') },
  }).then(
    (r) => ({ code: 0, ...r }),
    (e: { code: number; stdout: string; stderr: string }) => e,
  );

const jsonLines = (stdout: string) =>
  stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);

async function dumpFile(path: string) {
  const store = new SqliteStore({ path });
  try {
    return await dump(store);
  } finally {
    await store.close();
  }
}

describe('npm run backup / npm run restore', () => {
  const source = join(dir, 'source.db');
  beforeAll(async () => {
    expect((await cli('load', ['data/historical'], source)).code).toBe(0);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('backs up every table of a database into --dir, and restores each into another database with the same rows', async () => {
    const backups = join(dir, 'backups');
    const backup = await cli('backup', ['--dir', backups], source);
    expect(backup.code, backup.stderr).toBe(0);
    const files = jsonLines(backup.stdout) as { name: string; table: string; rows: number; path: string }[];
    expect(files.map((f) => [f.table, f.rows])).toEqual([
      ['departments', 12],
      ['jobs', 183],
      ['hired_employees', 1999],
    ]);
    expect(readdirSync(backups).sort()).toEqual(files.map((f) => f.name).sort());

    const target = join(dir, 'target.db');
    for (const f of files) {
      const restored = await cli('restore', ['--table', f.table, f.path], target);
      expect(restored.code, restored.stderr).toBe(0);
      expect(jsonLines(restored.stdout)).toEqual([{ table: f.table, restored: f.rows, mode: 'replace' }]);
    }
    expect(await dumpFile(target)).toEqual(await dumpFile(source));

    // Merge keeps what the file does not hold.
    const one = jsonLines((await cli('backup', ['--table', 'jobs'], source)).stdout)[0] as { path: string };
    expect(existsSync(one.path) && one.path.startsWith(join(dir, 'default-backups'))).toBe(true);
    const merged = await cli('restore', ['--table', 'jobs', '--mode', 'merge', one.path], target);
    expect(jsonLines(merged.stdout)).toEqual([{ table: 'jobs', restored: 183, mode: 'merge' }]);
  });

  it('refuses a file of another table (exit 1, nothing changed) and wrong arguments (exit 2)', async () => {
    const db = source;
    const backups = join(dir, 'refuse-backups');
    const files = jsonLines((await cli('backup', ['--dir', backups, '--table', 'departments'], db)).stdout) as { path: string }[];
    const before = await dumpFile(db);
    const wrong = await cli('restore', ['--table', 'jobs', files[0]!.path], db);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/SCHEMA_MISMATCH: The file is a backup of table "departments", not "jobs"/);
    expect(await dumpFile(db)).toEqual(before);
    expect((await cli('restore', [files[0]!.path], db)).code).toBe(2);
    expect((await cli('restore', ['--table', 'jobs', '--mode', 'upsert', files[0]!.path], db)).code).toBe(2);
    expect((await cli('restore', ['--table', 'jobs', join(dir, 'missing.avro')], db)).code).toBe(2);
    expect((await cli('backup', ['--table', 'salaries'], db)).code).toBe(2);
  });
});
