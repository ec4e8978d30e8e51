/**
 * Stored instants have one width, `YYYY-MM-DDTHH:MM:SS.sssZ`, so that text order is time order
 * (SQLite compares the text), and both backends give the same instants back; digits past the
 * milliseconds are truncated. Migration 007 rewrites what older versions stored (`…:59Z`).
 */
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { TABLES, type Row } from '../../src/tables.js';
import { readContainer } from '../backup/avro-reader.js';
import { startApp, type TestApp } from '../helpers/app.js';
import { BACKENDS } from '../helpers/backends.js';

// Sent in id order; time order is 2, 1, 3, 4 (…:59Z is before …:59.5Z, which old SQLite text put first).
const HIRES = [
  '1,One,2021-06-01T10:00:59.5Z,1,1',
  '2,Two,2021-06-01T10:00:59Z,1,1',
  '3,Three,2021-06-01T12:00:59.250+02:00,1,1', // 10:00:59.250Z: after 2, before 1
  '4,Four,2021-12-31T23:59:59.9999Z,1,1', // truncated, so still 2021 Q4 (rounding would make it 2022)
  '',
].join('\n');
const STORED = ['2021-06-01T10:00:59.500Z', '2021-06-01T10:00:59.000Z', '2021-06-01T10:00:59.250Z', '2021-12-31T23:59:59.999Z'];
const TIME_ORDER = [2, 3, 1, 4];

const all = async (pages: AsyncIterable<readonly Row[]>): Promise<Row[]> => {
  const out: Row[] = [];
  for await (const page of pages) out.push(...page);
  return out;
};

for (const backend of BACKENDS) {
  describe.skipIf(!backend.available)(`stored instants [${backend.name}]`, () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await startApp(backend);
      for (const [table, csv] of [
        ['departments', '1,Sales\n'],
        ['jobs', '1,Clerk\n'],
        ['hired_employees', HIRES],
      ] as const) {
        const res = await t.app.inject({ method: 'POST', url: `/upload/${table}`, payload: csv, headers: { 'content-type': 'text/csv' } });
        expect(res.json(), table).toMatchObject({ rejected: 0 });
      }
    });
    afterAll(() => t.close());

    it('are given back in one fixed-width form, fractions past milliseconds truncated, the same on both backends', async () => {
      const rows = await all(t.app.store.exportRows(TABLES.hired_employees));
      expect(rows.map((r) => r[2])).toEqual(STORED);
      if (backend.name === 'sqlite') {
        const stored = await t.app.store.query('SELECT datetime, length(datetime) AS width FROM hired_employees ORDER BY id', []);
        expect(stored).toEqual(STORED.map((datetime) => ({ datetime, width: 24 })));
      }
    });

    it('sort by datetime in time order', async () => {
      const ordered = await t.app.store.query('SELECT id FROM hired_employees ORDER BY datetime, id', []);
      expect(ordered.map((r) => Number(r.id))).toEqual(TIME_ORDER);
      expect(TIME_ORDER.map((id) => Date.parse(STORED[id - 1]!))).toEqual(STORED.map((s) => Date.parse(s)).sort((a, b) => a - b));
    });

    it('back up as the same milliseconds (GET /backup, read by a reader written from the Avro specification)', async () => {
      const res = await t.app.inject('/backup/hired_employees');
      expect(res.statusCode).toBe(200);
      const { records } = readContainer(res.rawPayload);
      expect(records.map((r) => r.datetime)).toEqual(STORED.map((s) => Date.parse(s)));
    });

    it('count in the year and quarter of their truncated instant', async () => {
      expect((await t.app.inject('/metrics/hired-employees?year=2021')).json()).toEqual([
        { department: 'Sales', job: 'Clerk', Q1: 0, Q2: 3, Q3: 0, Q4: 1 },
      ]);
      expect((await t.app.inject('/metrics/years')).json()).toEqual({ years: [2021] });
    });
  });
}

// The ends of the range, and milliseconds whose decimal has no exact binary form: a backup
// (PostgreSQL reads instants as a double of epoch seconds) must give each back to the millisecond.
const EDGES = [
  '0001-01-01T00:00:00.000Z',
  '0001-01-01T00:00:00.001Z',
  '1969-12-31T23:59:59.999Z',
  '1970-01-01T00:00:00.001Z',
  '2021-03-31T23:59:59.999Z',
  '2038-01-19T03:14:08.003Z',
  '9999-12-31T23:59:59.998Z',
  '9999-12-31T23:59:59.999Z',
  ...Array.from({ length: 200 }, (_, i) =>
    new Date(-62135596800000 + Math.floor(((i * 7919) % 200) * 1.5843e12) + ((i * 37) % 1000)).toISOString(),
  ),
];

for (const backend of BACKENDS) {
  describe.skipIf(!backend.available)(`instants at the ends of the range [${backend.name}]`, () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await startApp(backend);
    });
    afterAll(() => t.close());

    it('back up as the same milliseconds', async () => {
      const csv = EDGES.map((datetime, i) => `${i + 1},Edge ${i + 1},${datetime},1,1\n`).join('');
      const res = await t.app.inject({
        method: 'POST',
        url: '/upload/hired_employees',
        payload: csv,
        headers: { 'content-type': 'text/csv' },
      });
      expect(res.json()).toMatchObject({ inserted: EDGES.length, rejected: 0 });
      const backup = await t.app.inject('/backup/hired_employees');
      expect(backup.statusCode).toBe(200);
      expect(readContainer(backup.rawPayload).records.map((r) => r.datetime)).toEqual(EDGES.map((s) => Date.parse(s)));
      // Restored over the table (on PostgreSQL as COPY BINARY: microseconds from 2000, negative
      // before it) and backed up again: the same milliseconds.
      const restored = await t.app.inject({
        method: 'POST',
        url: '/restore/hired_employees?mode=replace',
        payload: backup.rawPayload,
        headers: { 'content-type': 'application/octet-stream' },
      });
      expect(restored.json()).toMatchObject({ restored: EDGES.length });
      const again = await t.app.inject('/backup/hired_employees');
      expect(readContainer(again.rawPayload).records.map((r) => r.datetime)).toEqual(EDGES.map((s) => Date.parse(s)));
    });
  });
}

describe('migration 007 [sqlite]', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hr-instants-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('rewrites the instants older versions stored on whole seconds, keeping the hire counts', async () => {
    const path = join(dir, 'old.sqlite');
    // A database as version 6 left it: every migration but 007, rows written by direct SQL in
    // the two widths the old code stored (the triggers count them, as they did then).
    const store = new SqliteStore({ path });
    await store.migrate();
    await store.close();
    const old = new Database(path);
    old.exec('DELETE FROM schema_migrations WHERE version = 7');
    const insert = old.prepare('INSERT INTO hired_employees VALUES (?, ?, ?, ?, ?)');
    const oldForms = ['2021-06-01T10:00:59.500Z', '2021-06-01T10:00:59Z', null, '2020-03-31T23:59:59Z', '2021-06-01T10:00:59.250Z'];
    old.transaction(() => oldForms.forEach((datetime, i) => insert.run(i + 1, `N${i + 1}`, datetime, 1, 1)))();
    const counts = () => old.prepare('SELECT year, quarter, department_id, job_id, hires FROM hire_counts ORDER BY 1, 2, 3, 4').all();
    const before = counts();
    // The bug being fixed: text order put …:59.250Z and …:59.500Z before …:59Z.
    expect(old.prepare('SELECT id FROM hired_employees WHERE datetime IS NOT NULL ORDER BY datetime').pluck().all()).toEqual([4, 5, 1, 2]);
    old.close();

    const reopened = new SqliteStore({ path });
    await reopened.migrate();
    await reopened.close();
    const db = new Database(path, { readonly: true });
    try {
      expect(db.prepare('SELECT datetime FROM hired_employees ORDER BY id').pluck().all()).toEqual([
        '2021-06-01T10:00:59.500Z',
        '2021-06-01T10:00:59.000Z',
        null,
        '2020-03-31T23:59:59.000Z',
        '2021-06-01T10:00:59.250Z',
      ]);
      expect(db.prepare('SELECT id FROM hired_employees WHERE datetime IS NOT NULL ORDER BY datetime').pluck().all()).toEqual([4, 2, 5, 1]);
      expect(db.prepare('SELECT year, quarter, department_id, job_id, hires FROM hire_counts ORDER BY 1, 2, 3, 4').all()).toEqual(before);
      expect(db.prepare('SELECT version FROM schema_migrations WHERE version = 7').pluck().get()).toBe(7);
    } finally {
      db.close();
    }
  });
});
