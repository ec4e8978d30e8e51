import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyLine, copyText } from '../../src/store/postgres/copy-text.js';
import type { TestDatabase } from '../helpers/backends.js';
import { postgresBackend } from '../helpers/postgres.js';

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
});
