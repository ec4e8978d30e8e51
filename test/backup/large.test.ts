import { createReadStream, createWriteStream, mkdtempSync, rmSync, statSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scanContainer } from '../../src/backup/container-scan.js';
import { employeesStream } from '../helpers/generate.js';
import { startServerProcess, type ServerProcess } from '../helpers/server-process.js';

const ROWS = 1_000_000;
const MB = 2 ** 20;

/** POSTs a streamed body and answers the parsed JSON response. */
const post = (url: string, body: Readable, contentType: string) =>
  new Promise<Record<string, unknown>>((resolve, reject) => {
    const req = request(url, { method: 'POST', headers: { 'content-type': contentType } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve(JSON.parse(text) as Record<string, unknown>));
    });
    req.on('error', reject);
    body.pipe(req);
  });

const json = async (url: string) => (await fetch(url)).json() as Promise<unknown>;

describe('a 1,000,000-row table backs up and restores with flat memory (real server process, SQLite file)', () => {
  let server: ServerProcess;
  let dir: string;
  let env: Record<string, string>;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hr-backup-large-'));
    env = { DATABASE_URL: `sqlite:${join(dir, 'db.sqlite')}`, BACKUP_DIR: join(dir, 'backups') };
    server = await startServerProcess(env);
    const loaded = await post(`${server.url}/upload/hired_employees`, employeesStream(ROWS), 'text/csv');
    expect(loaded).toMatchObject({ status: 'committed', inserted: ROWS });
    // A fresh process: its peak memory (VmHWM) is then the backup's and the restore's alone.
    await server.stop();
    server = await startServerProcess(env);
  });
  afterAll(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('streams GET /backup/hired_employees to disk and POST /restore from it, the server peak growing far less than the data', async () => {
    const reportBefore = await json(`${server.url}/metrics/hired-employees?year=2021`);
    const before = server.rss();
    const file = join(dir, 'hired_employees.avro');

    const download = await fetch(`${server.url}/backup/hired_employees`);
    expect(download.status).toBe(200);
    await pipeline(download.body!, createWriteStream(file));
    const summary = await scanContainer(file);
    expect(summary).toMatchObject({ rows: ROWS, complete: true });
    const afterBackup = server.peakRss() - before;

    const restored = await post(`${server.url}/restore/hired_employees?mode=replace`, createReadStream(file), 'application/octet-stream');
    expect(restored).toEqual({ table: 'hired_employees', restored: ROWS, mode: 'replace' });
    const growth = server.peakRss() - before;
    console.log(
      `1M rows: backup ${(statSync(file).size / MB).toFixed(1)} MB in ${summary!.blocks} blocks; server RSS before ${(before / MB).toFixed(0)} MB, ` +
        `peak growth ${(afterBackup / MB).toFixed(0)} MB after the backup, ${(growth / MB).toFixed(0)} MB after the restore`,
    );
    // A million rows as JavaScript values would take several hundred MB: a peak this far below
    // means neither side ever held the table.
    expect(growth).toBeLessThan(150 * MB);

    const tables = (await json(`${server.url}/tables`)) as { tables: { name: string; rows: number }[] };
    expect(tables.tables.find((t) => t.name === 'hired_employees')!.rows).toBe(ROWS);
    expect(await json(`${server.url}/metrics/hired-employees?year=2021`)).toEqual(reportBefore);
  });
});
