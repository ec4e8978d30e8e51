/**
 * The heap ceiling (src/node-flags.ts: --max-old-space-size=128) cannot run out under the
 * service's own limits (README, "The heap"). The built server, with the flags it ships with, on
 * PostgreSQL (the backend that runs most work at once), is given the worst of everything at the
 * same time, each at its limit: uploads of every table made of 60 KiB records (half rejected)
 * with batch_size at its maximum, more uploads queued behind them, more 1,000-row batches of
 * ~1 MB JSON than their gate lets in, more stalled rejects.csv downloads of 60 KiB records than
 * theirs lets in, and every year's reports. V8's own trace (--trace-gc) gives the heap after each
 * full collection: what is live. It must stay under three quarters of the ceiling, and every
 * answer must be right.
 */
import net from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { SERVER_NODE_FLAGS } from '../../src/node-flags.js';
import type { TestDatabase } from '../helpers/backends.js';
import { postgresBackend } from '../helpers/postgres.js';
import { startServerProcess, type ServerProcess } from '../helpers/server-process.js';

const CEILING_MB = Number(/--max-old-space-size=(\d+)/.exec(SERVER_NODE_FLAGS.join(' '))![1]);
const RECORD = 60 * 1024;
const LINES = 240;
const BATCHES = 16;
const DOWNLOADS = 14;

/** A file of LINES records of ~60 KiB, every other one rejected (an id that is not a number). */
function file(table: 'departments' | 'jobs' | 'hired_employees', offset: number): { body: Buffer; valid: number; rejected: number } {
  const lines: string[] = [];
  let valid = 0;
  for (let i = 1; i <= LINES; i++) {
    const id = i % 2 === 0 ? String(offset + i) : `x${i}`;
    const name = `${table} ${i} ${'n'.repeat(RECORD)}`;
    lines.push(
      table === 'hired_employees' ? `${id},${name},2021-0${1 + (i % 9)}-01T00:00:00Z,${1 + (i % 5)},${1 + (i % 7)}` : `${id},${name}`,
    );
    if (i % 2 === 0) valid++;
  }
  return { body: Buffer.from(lines.join('\n') + '\n'), valid, rejected: LINES - valid };
}

/** The heap (MB) V8 reported before and after each collection, from --trace-gc lines. */
function heapTrace(output: string): { liveMax: number; usedMax: number; fullCollections: number } {
  let liveMax = 0;
  let usedMax = 0;
  let fullCollections = 0;
  for (const m of output.matchAll(/(Scavenge|Mark-Compact)[^\d]*([\d.]+) \([\d.]+\) -> ([\d.]+) \([\d.]+\) MB/g)) {
    usedMax = Math.max(usedMax, Number(m[2]));
    if (m[1] === 'Mark-Compact') {
      fullCollections++;
      liveMax = Math.max(liveMax, Number(m[3]));
    }
  }
  return { liveMax, usedMax, fullCollections };
}

/** Opens a download and never reads it: the server's send buffers fill and it holds its page. */
function stall(url: string, path: string): Promise<net.Socket> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: hostname, port: Number(port) }, () => {
      socket.write(`GET ${path} HTTP/1.1\r\nHost: ${hostname}\r\n\r\n`);
      socket.pause();
      resolve(socket);
    });
    socket.on('error', reject);
  });
}

describe.skipIf(!postgresBackend.available)('the heap under every limit at once [postgres]', () => {
  let server: ServerProcess | undefined;
  let db: TestDatabase | undefined;
  afterAll(async () => {
    await server?.stop('SIGKILL');
    await db?.drop();
  });

  it(`stays under three quarters of the ${CEILING_MB} MB ceiling, and every answer is right`, { timeout: 180_000 }, async () => {
    db = await postgresBackend.create();
    server = await startServerProcess(
      {
        DATABASE_URL: db.url,
        PG_POOL_MAX: '10',
        RATE_LIMIT_WRITES_PER_MINUTE: '1000000',
        WRITE_QUEUE_TIMEOUT_MS: '8000',
        DOWNLOAD_IDLE_TIMEOUT_MS: '8000',
      },
      ['--trace-gc'],
    );
    const base = server.url;
    const post = (path: string, body: Buffer | string, type: string) =>
      fetch(`${base}${path}`, {
        method: 'POST',
        headers: { 'content-type': type },
        body: typeof body === 'string' ? body : new Uint8Array(body),
      });

    // An upload whose 120 rejected records the downloads below will stall on.
    const first = file('hired_employees', 0);
    const logged = await (await post('/upload/hired_employees?batch_size=100000', first.body, 'text/csv')).json();
    expect(logged).toMatchObject({ status: 'committed', inserted: first.valid, rejected: first.rejected });

    const stalled = await Promise.all(Array.from({ length: DOWNLOADS }, () => stall(base, `/uploads/${logged.upload_id}/rejects.csv`)));
    const files = {
      departments: file('departments', 0),
      jobs: file('jobs', 0),
      hired_employees: file('hired_employees', 10_000),
    };
    // Every table at once, each twice: the second of each waits for the first's table lock.
    const uploads = (['departments', 'jobs', 'hired_employees'] as const).flatMap((table) =>
      [0, 1].map(async (k) => {
        const { body } = k === 0 ? files[table] : file(table, 100_000 * (k + 1));
        const res = await post(`/upload/${table}?batch_size=100000`, body, 'text/csv');
        return { table, status: res.status, report: await res.json() };
      }),
    );
    const batches = Array.from({ length: BATCHES }, async (_, b) => {
      const rows = Array.from({ length: 1000 }, (_, i) => ({ id: 1_000_000 + b * 1000 + i, department: `${b}-${i} ${'d'.repeat(990)}` }));
      const res = await post('/batch/departments', JSON.stringify(rows), 'application/json');
      return res.status;
    });
    const reports = Array.from({ length: 40 }, async (_, y) => {
      const res = await fetch(`${base}/metrics/${y % 2 === 0 ? 'hired-employees' : 'departments-above-mean'}?year=${2000 + (y >> 1)}`);
      return res.status;
    });

    const done = await Promise.all(uploads);
    const batchStatuses = await Promise.all(batches);
    const reportStatuses = await Promise.all(reports);
    for (const socket of stalled) socket.destroy();

    for (const { table, status, report } of done) {
      expect(status, `${table}: ${JSON.stringify(report).slice(0, 300)}`).toBe(200);
      expect(report).toMatchObject({ status: 'committed', received: LINES, inserted: LINES / 2, rejected: LINES / 2 });
    }
    // Each batch either went in whole after the uploads, or waited its deadline and did nothing.
    expect(batchStatuses.every((s) => s === 201 || s === 503)).toBe(true);
    expect(reportStatuses.every((s) => s === 200)).toBe(true);
    const tables = (await (await fetch(`${base}/tables`)).json()) as { tables: { name: string; rows: number }[] };
    const rows = Object.fromEntries(tables.tables.map((t) => [t.name, t.rows]));
    expect(rows).toEqual({
      departments: 2 * (LINES / 2) + 1000 * batchStatuses.filter((s) => s === 201).length,
      jobs: 2 * (LINES / 2),
      hired_employees: 3 * (LINES / 2),
    });
    expect(server.child.exitCode).toBeNull();

    const heap = heapTrace(server.output());
    console.log(
      `heap: live after a full collection at most ${heap.liveMax} MB (${heap.fullCollections} full collections), ` +
        `used before a collection at most ${heap.usedMax} MB; ceiling ${CEILING_MB} MB; peak RSS ${(server.peakRss() / 2 ** 20).toFixed(1)} MB`,
    );
    expect(heap.fullCollections).toBeGreaterThan(0);
    expect(heap.liveMax).toBeLessThan(0.75 * CEILING_MB);
  });
});
