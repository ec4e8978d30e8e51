/**
 * Uploads into a SQLite file insert on the load worker (LoadThread, WorkerLoadSession): the same
 * answers, rows, counts and rejected lines as on the writer connection, checked against a model
 * of the file computed here; a worker that dies mid-upload costs that upload only.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import Database from 'better-sqlite3';
import type { FastifyInstance } from 'fastify';
import { afterAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import type { LoadThread } from '../../src/store/sqlite/load-thread.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';

const dir = mkdtempSync(join(tmpdir(), 'hr-load-thread-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
async function serve(loadThread: boolean): Promise<{ app: FastifyInstance; store: SqliteStore; path: string; close(): Promise<void> }> {
  const path = join(dir, `hr-${++n}.db`);
  const store = new SqliteStore({ path, loadThread });
  const app = await buildApp(loadConfig({}, { LOG_LEVEL: 'silent', DATABASE_URL: `sqlite:${path}` }), { store });
  return {
    app,
    store,
    path,
    close: async () => {
      await app.close();
      await store.close();
    },
  };
}

const ROWS = 60_000;

/**
 * A hired_employees file with every kind of line, and what it must leave behind, computed from
 * the lines themselves: 60,000 ids out of order, 2,500 repeats of earlier ids, 300 bad instants,
 * 500 empty names (stored, incomplete), 400 empty departments (stored, not counted), names with
 * quotes, commas and non-ASCII text.
 */
function model(): {
  text: string;
  stored: Map<number, [string | null, string, number | null, number | null]>;
  rejected: number[];
  incomplete: number;
  hires: Map<string, number>;
} {
  const lines: string[] = [];
  const stored = new Map<number, [string | null, string, number | null, number | null]>();
  const rejected: number[] = [];
  let incomplete = 0;
  const order = Array.from({ length: ROWS }, (_v, i) => ((i * 7919) % ROWS) + 1);
  let repeats = 0;
  for (let i = 0; i < order.length; i++) {
    const id = order[i]!;
    const month = 1 + (id % 12);
    const instant = `${2020 + (id % 3)}-${String(month).padStart(2, '0')}-${String(1 + (id % 28)).padStart(2, '0')}T${String(id % 24).padStart(2, '0')}:15:00Z`;
    const name = id % 120 === 0 ? null : id % 97 === 0 ? `"Ng, ""Ana"" ${id}"` : id % 89 === 0 ? `Zoë Łukasz ${id}` : `Person ${id}`;
    const department = id % 150 === 0 ? null : 1 + (id % 12);
    const job = 1 + (id % 183);
    if (id % 200 === 0) {
      lines.push(`${id},Bad ${id},2021-13-01T00:00:00Z,1,1`);
      rejected.push(lines.length);
      continue;
    }
    lines.push(`${id},${name ?? ''},${instant},${department ?? ''},${job}`);
    const value = name === null ? null : name.startsWith('"') ? `Ng, "Ana" ${id}` : name;
    stored.set(id, [value, instant, department, job]);
    if (name === null || department === null) incomplete++;
    const earlier = order[Math.floor(i / 2)]!;
    // A repeat of a stored id (not of a rejected line's: that one would be stored).
    if (i % 23 === 0 && repeats < 2500 && stored.has(earlier)) {
      repeats++;
      lines.push(`${earlier},Again ${earlier},2022-01-01T00:00:00Z,2,2`);
      rejected.push(lines.length);
    }
  }
  const hires = new Map<string, number>();
  for (const [, [, instant, department, job]] of stored) {
    if (department === null) continue;
    const key = `${instant.slice(0, 4)}|${Math.floor((Number(instant.slice(5, 7)) + 2) / 3)}|${department}|${job}`;
    hires.set(key, (hires.get(key) ?? 0) + 1);
  }
  return { text: lines.join('\r\n') + '\r\n', stored, rejected, incomplete, hires };
}

function storedRows(path: string): { rows: unknown[][]; hires: Map<string, number> } {
  const db = new Database(path, { readonly: true });
  try {
    const rows = db.prepare('SELECT id, name, datetime, department_id, job_id FROM hired_employees ORDER BY id').raw().all() as unknown[][];
    const hires = new Map<string, number>();
    for (const r of db.prepare('SELECT year, quarter, department_id, job_id, hires FROM hire_counts').raw().all() as number[][]) {
      if (r[4]! > 0) hires.set(`${r[0]}|${r[1]}|${r[2]}|${r[3]}`, r[4]!);
    }
    return { rows, hires };
  } finally {
    db.close();
  }
}

const instantOf = (text: string): string => new Date(text).toISOString();

describe('uploads on the SQLite load worker', () => {
  const expected = model();

  it('store what the file says, count its hires and keep its rejected lines, as the writer connection does', async () => {
    const answers: Record<string, unknown>[] = [];
    const rejectFiles: string[] = [];
    for (const loadThread of [true, false]) {
      const server = await serve(loadThread);
      try {
        expect(server.store.loadsOffThread).toBe(loadThread);
        // An index of the user's own: a 60,000-row load drops it and builds it after its commit.
        const own = new Database(server.path);
        own.exec('CREATE INDEX he_name_idx ON hired_employees (name)');
        own.close();
        const res = await server.app.inject({
          method: 'POST',
          url: '/upload/hired_employees?batch_size=1000',
          headers: { 'content-type': 'text/csv' },
          payload: expected.text,
        });
        expect(res.statusCode).toBe(200);
        const body = res.json();
        expect(body).toMatchObject({
          status: 'committed',
          received: expected.stored.size + expected.rejected.length,
          inserted: expected.stored.size,
          rejected: expected.rejected.length,
          incomplete: expected.incomplete,
        });
        expect(body.errors.map((e: { line: number }) => e.line)).toEqual(expected.rejected.slice(0, 100));

        const { rows, hires } = storedRows(server.path);
        expect(rows.length).toBe(expected.stored.size);
        for (const [id, name, datetime, department, job] of rows as [number, string | null, string, number | null, number | null][]) {
          const want = expected.stored.get(id)!;
          expect([name, datetime, department, job]).toEqual([want[0], instantOf(want[1]), want[2], want[3]]);
        }
        expect(hires).toEqual(expected.hires);
        // A 60,000-row load drops the secondary indexes and builds them after its commit.
        const db = new Database(server.path, { readonly: true });
        const indexes = db
          .prepare("SELECT count(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = 'hired_employees' AND sql IS NOT NULL")
          .pluck()
          .get();
        db.close();
        expect(indexes).toBeGreaterThan(0);

        const rejects = await server.app.inject(`/uploads/${body.upload_id}/rejects.csv`);
        const lines = expected.text.split('\r\n');
        expect(rejects.body).toBe(expected.rejected.map((line) => `${lines[line - 1]}\r\n`).join(''));
        rejectFiles.push(rejects.body);
        const { upload_id: _id, started_at: _s, elapsed_ms: _e, ...rest } = body as Record<string, unknown>;
        answers.push(rest);
      } finally {
        await server.close();
      }
    }
    expect(answers[0]).toEqual(answers[1]);
    expect(rejectFiles[0]).toBe(rejectFiles[1]);
  });

  it('a worker that dies mid-upload: 503 DATABASE_UNAVAILABLE, nothing of it kept, and the next upload loads on a new one', async () => {
    const server = await serve(true);
    try {
      const thread = (): LoadThread => (server.store as unknown as { loadThread: LoadThread }).loadThread;
      const pieces = expected.text.match(/(?:[^\n]*\n){1,2000}/g)!;
      let sent = 0;
      const body = Readable.from(
        (async function* () {
          for (const piece of pieces) {
            // Halfway through, the thread inserting this upload's rows is ended.
            if (sent++ === Math.floor(pieces.length / 2)) await thread().terminate();
            yield piece;
          }
        })(),
      );
      const res = await server.app.inject({
        method: 'POST',
        url: '/upload/hired_employees?batch_size=1000',
        headers: { 'content-type': 'text/csv' },
        payload: body,
      });
      expect(res.statusCode).toBe(503);
      expect(res.json()).toMatchObject({ error: 'DATABASE_UNAVAILABLE' });
      expect(storedRows(server.path).rows.length).toBe(0);
      expect(storedRows(server.path).hires.size).toBe(0);

      const again = await server.app.inject({
        method: 'POST',
        url: '/upload/hired_employees',
        headers: { 'content-type': 'text/csv' },
        payload: expected.text,
      });
      expect(again.statusCode).toBe(200);
      expect(again.json()).toMatchObject({ inserted: expected.stored.size, rejected: expected.rejected.length });
      expect(thread().alive).toBe(true);
      const { rows, hires } = storedRows(server.path);
      expect(rows.length).toBe(expected.stored.size);
      expect(hires).toEqual(expected.hires);
    } finally {
      await server.close();
    }
  });
});
