import { spawn, type ChildProcess } from 'node:child_process';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { listen } from '../helpers/app.js';
import { ROOT } from '../helpers/server-process.js';
import { sqliteFile } from './support/app.js';

const BUSY_TIMEOUT_MS = 1500;

/** Another process that takes the database's write lock and keeps it until told to let go. */
async function lockHolder(path: string): Promise<{ release(): Promise<void> }> {
  const script = `
    const Database = require('better-sqlite3');
    const db = new Database(process.argv[1]);
    db.exec('BEGIN IMMEDIATE');
    db.prepare("INSERT INTO departments (id, department) VALUES (999999, 'held by another process')").run();
    process.stdout.write('locked\\n');
    process.stdin.once('data', () => { db.exec('ROLLBACK'); db.close(); process.exit(0); });
  `;
  const child: ChildProcess = spawn(process.execPath, ['-e', script, path], { cwd: ROOT, stdio: ['pipe', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`lock holder exited with ${code}`)));
  });
  return {
    release: () =>
      new Promise((resolve) => {
        child.once('exit', () => resolve());
        child.stdin!.write('go\n');
      }),
  };
}

const json = (body: unknown) => ({
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(body),
});

describe('SQLite locked by another process (SQLITE_BUSY_TIMEOUT_MS)', () => {
  let app: FastifyInstance;
  let url: string;
  let db: Awaited<ReturnType<typeof sqliteFile>>;
  beforeAll(async () => {
    db = await sqliteFile();
    app = await buildApp(loadConfig({}, { LOG_LEVEL: 'silent', DATABASE_URL: db.url, SQLITE_BUSY_TIMEOUT_MS: BUSY_TIMEOUT_MS }));
    url = await listen(app);
  });
  afterAll(async () => {
    await app?.close();
    await db?.drop();
  });

  it('answers writes 503 with Retry-After after the busy timeout, keeps serving reads meanwhile, and recovers', async () => {
    const holder = await lockHolder(db.path);
    const order: string[] = [];
    const started = performance.now();
    const batch = fetch(`${url}/batch/departments`, json([{ id: 1, department: 'Sales' }])).then(async (res) => {
      order.push('batch');
      return { status: res.status, retryAfter: res.headers.get('retry-after'), body: (await res.json()) as Record<string, unknown> };
    });
    const upload = fetch(`${url}/upload/departments`, { method: 'POST', headers: { 'content-type': 'text/csv' }, body: '2,Legal\n' }).then(
      async (res) => {
        order.push('upload');
        return { status: res.status, retryAfter: res.headers.get('retry-after'), body: (await res.json()) as Record<string, unknown> };
      },
    );
    // Reads are answered while the writes wait (the wait must not block the event loop).
    await new Promise((resolve) => setTimeout(resolve, 100));
    for (const path of ['/health', '/tables', '/metrics/departments-above-mean']) {
      const res = await fetch(`${url}${path}`);
      expect(res.status, path).toBe(200);
      order.push(path);
    }
    const [b, u] = await Promise.all([batch, upload]);
    const elapsed = performance.now() - started;
    expect(order.slice(0, 3)).toEqual(['/health', '/tables', '/metrics/departments-above-mean']);
    for (const answer of [b, u]) {
      expect(answer.status).toBe(503);
      expect(answer.retryAfter).toBe('1');
      expect(answer.body).toEqual(expect.objectContaining({ error: 'DATABASE_UNAVAILABLE', message: 'The database is busy; retry later' }));
      expect(JSON.stringify(answer.body)).not.toMatch(/SQLITE|INSERT|BEGIN/);
    }
    // Bounded: the busy timeout of each write (they queue behind each other), not a hang.
    expect(elapsed).toBeGreaterThanOrEqual(BUSY_TIMEOUT_MS - 50);
    expect(elapsed).toBeLessThan(2 * BUSY_TIMEOUT_MS + 3000);

    await holder.release();
    expect((await fetch(`${url}/batch/departments`, json([{ id: 1, department: 'Sales' }]))).status).toBe(201);
    const tables = (await (await fetch(`${url}/tables`)).json()) as { tables: { name: string; rows: number }[] };
    expect(tables.tables[0]).toEqual({ name: 'departments', rows: 1 });
  });

  it('lets a write wait for a lock released within the busy timeout, then succeed', async () => {
    const holder = await lockHolder(db.path);
    const batch = fetch(`${url}/batch/departments`, json([{ id: 3, department: 'Support' }]));
    await new Promise((resolve) => setTimeout(resolve, 300));
    await holder.release();
    expect((await batch).status).toBe(201);
  });
});
