import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyLine, copyLineFor, copyText, CopyWriter } from '../../src/store/postgres/copy-text.js';
import type { TestDatabase } from '../helpers/backends.js';
import { postgresBackend } from '../helpers/postgres.js';

describe('copyLineFor', () => {
  it('writes what copyLine writes for stored rows: text escaped, NULL as \\N, numbers and instants as they are', () => {
    const line = copyLineFor(['integer', 'text', 'datetime', 'integer', 'integer']);
    const rows = [
      [1, 'Ann', '2021-01-01T00:00:00Z', 2, 3],
      [2, 'tab\there, back\\slash, new\nline, cr\r', '2021-01-01T00:00:00.123Z', null, 3],
      [3, null, null, null, null],
      [4, 'nul \0 kept out', '2021-01-01T00:00:00Z', 1, null],
    ];
    for (const row of rows) expect(line(row)).toBe(copyLine(row));
    expect(line(rows[1]!)).toBe('2\ttab\\there, back\\\\slash, new\\nline, cr\\r\t2021-01-01T00:00:00.123Z\t\\N\t3\n');
  });
});

describe.skipIf(!postgresBackend.available)('copyText [postgres]', () => {
  let db: TestDatabase;
  let pool: pg.Pool;
  beforeAll(async () => {
    db = await postgresBackend.create();
    pool = new pg.Pool({ connectionString: db.url, max: 1 });
    await pool.query('CREATE TABLE t (id BIGINT PRIMARY KEY, name TEXT)');
  });
  afterAll(async () => {
    await pool.end();
    await db.drop();
  });

  it('copies text and resolves with the rows copied', async () => {
    const client = await pool.connect();
    try {
      const text = [1, 2, 3].map((id) => copyLine([id, `n\t${id}`])).join('');
      expect(await copyText(client, 'COPY t (id, name) FROM STDIN', text)).toBe(3);
      expect((await client.query('SELECT name FROM t WHERE id = 2')).rows).toEqual([{ name: 'n\t2' }]);
    } finally {
      client.release();
    }
  });

  it('rejects with the unique violation when the server stops it part-way through megabytes, and the connection goes on', async () => {
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      await client.query('SAVEPOINT s');
      // The first row is a duplicate: the server answers while most of the 20 MB is still unsent.
      let text = copyLine([1, 'again']);
      for (let id = 10; id < 400_000; id++) text += copyLine([id, `a name long enough to fill the socket ${id}`]);
      const failure = await copyText(client, 'COPY t (id, name) FROM STDIN', text).catch((error: unknown) => error);
      expect((failure as { code?: string }).code).toBe('23505');
      await new Promise((resolve) => setTimeout(resolve, 200));
      await client.query('ROLLBACK TO SAVEPOINT s');
      expect(await copyText(client, 'COPY t (id, name) FROM STDIN', copyLine([4, 'four']))).toBe(1);
      await client.query('COMMIT');
      expect((await client.query('SELECT COUNT(*)::int AS n FROM t')).rows).toEqual([{ n: 4 }]);
    } finally {
      client.release();
    }
  });

  it('CopyWriter: one COPY written piece by piece; a unique violation part-way ends it, what comes after is dropped, the connection goes on', async () => {
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      await client.query('SAVEPOINT s');
      const writer = new CopyWriter(client, 'COPY t (id, name) FROM STDIN');
      // Id 4 is stored (the test above): the server stops the COPY while pieces are still coming.
      for (let piece = 0; piece < 40; piece++) {
        let text = piece === 2 ? copyLine([4, 'again']) : '';
        for (let id = 1000 + piece * 10_000; id < 1000 + (piece + 1) * 10_000; id++) text += copyLine([id, `a name long enough ${id}`]);
        await writer.write(Buffer.from(text));
      }
      // The error comes when the server reaches the row; whatever was written after it is dropped.
      expect(await writer.end().catch((error: unknown) => error)).toMatchObject({ code: '23505' });
      expect(writer.failure).toMatchObject({ code: '23505' });
      await writer.write(Buffer.from(copyLine([8, 'too late'])));
      await new Promise((resolve) => setTimeout(resolve, 200));
      await client.query('ROLLBACK TO SAVEPOINT s');
      const second = new CopyWriter(client, 'COPY t (id, name) FROM STDIN');
      await second.write(Buffer.from(copyLine([5, 'five']) + copyLine([6, 'six'])));
      await second.write(Buffer.from(copyLine([7, 'seven'])));
      expect(await second.end()).toBe(3);
      await client.query('COMMIT');
      expect((await client.query('SELECT COUNT(*)::int AS n FROM t')).rows).toEqual([{ n: 7 }]);
    } finally {
      client.release();
    }
  });
});
