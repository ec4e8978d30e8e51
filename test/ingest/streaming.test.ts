import { request } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { employeesStream } from '../helpers/generate.js';
import { startServerProcess, type ServerProcess } from '../helpers/server-process.js';

const ROWS = 1_000_000;

describe('streaming a 1,000,000-row upload (real server process, SQLite file)', () => {
  let server: ServerProcess;
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hr-stream-'));
    server = await startServerProcess({ DATABASE_URL: `sqlite:${join(dir, 'db.sqlite')}` });
  });
  afterAll(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('inserts every row while the server memory stays flat', async () => {
    const before = server.rss();
    const body = await new Promise<string>((resolve, reject) => {
      const req = request(`${server.url}/upload/hired_employees`, { method: 'POST', headers: { 'content-type': 'text/csv' } }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => resolve(text));
      });
      req.on('error', reject);
      employeesStream(ROWS).pipe(req);
    });
    const report = JSON.parse(body) as Record<string, unknown>;
    expect(report).toMatchObject({ status: 'committed', received: ROWS, inserted: ROWS, rejected: 0, incomplete: Math.floor(ROWS / 29) });
    // The file is ~50 MB and its rows as JavaScript values would take several hundred MB:
    // a peak this far below that means the rows were never all held at once.
    const growth = server.peakRss() - before;
    console.log(`server RSS before ${(before / 2 ** 20).toFixed(0)} MB, peak growth ${(growth / 2 ** 20).toFixed(0)} MB`);
    expect(growth).toBeLessThan(150 * 2 ** 20);
    const tables = (await (await fetch(`${server.url}/tables`)).json()) as { tables: { name: string; rows: number }[] };
    expect(tables.tables.find((t) => t.name === 'hired_employees')!.rows).toBe(ROWS);
  });
});
