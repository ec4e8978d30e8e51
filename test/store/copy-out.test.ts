import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CopyOutBuffer } from '../../src/store/postgres/copy-out.js';
import type { TestDatabase } from '../helpers/backends.js';
import { postgresBackend } from '../helpers/postgres.js';

/** COPY TO's text for one field, written here from the documented rules. */
const field = (value: string | null): string =>
  value === null ? '\\N' : value.replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n').replace(/\r/g, '\\r');

/** Names that need escapes and are long enough for rows to cross the socket's chunks. */
const nameOf = (i: number): string | null => (i % 7 === 0 ? null : `n\t${i}\\ ${'é'.repeat(i % 50)}\n${i % 3 === 0 ? '\r' : ''}`);

describe.skipIf(!postgresBackend.available)('CopyOutBuffer [postgres]', () => {
  let db: TestDatabase;
  let pool: pg.Pool;
  const ROWS = 60_000;
  beforeAll(async () => {
    db = await postgresBackend.create();
    pool = new pg.Pool({ connectionString: db.url, max: 1 });
    await pool.query('CREATE TABLE t (id BIGINT PRIMARY KEY, name TEXT)');
    const values: (number | string | null)[] = [];
    for (let i = 1; i <= ROWS; i++) values.push(i, nameOf(i));
    for (let from = 0; from < ROWS; from += 5000) {
      const rows = Array.from({ length: 5000 }, (_, k) => `($${2 * k + 1}::bigint, $${2 * k + 2}::text)`).join(', ');
      await pool.query(`INSERT INTO t VALUES ${rows}`, values.slice(2 * from, 2 * (from + 5000)));
    }
  });
  afterAll(async () => {
    await pool.end();
    await db.drop();
  });

  /** Runs `copy` on a client of its own and gives the client back once the COPY is over. */
  const run = async (copy: CopyOutBuffer): Promise<Buffer> => {
    const client = await pool.connect();
    client.query(copy);
    try {
      return await copy.output;
    } finally {
      client.release();
    }
  };
  const expected = (ids: number[]): Buffer => Buffer.from(ids.map((i) => `${i}\t${field(nameOf(i))}\n`).join(''), 'utf8');
  const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, k) => from + k);

  it("gives the COPY's whole output, byte for byte, whatever the size of the buffer it is given", async () => {
    for (const start of [1, 4096, 10 * 1024 * 1024]) {
      const output = await run(new CopyOutBuffer('COPY (SELECT id, name FROM t ORDER BY id) TO STDOUT', Buffer.alloc(start)));
      expect(output.equals(expected(range(1, ROWS)))).toBe(true);
    }
  });

  it('gives an empty buffer for a COPY of no rows, and the connection serves the next query', async () => {
    const client = await pool.connect();
    try {
      const copy = new CopyOutBuffer('COPY (SELECT id, name FROM t WHERE id < 0) TO STDOUT');
      client.query(copy);
      expect((await copy.output).length).toBe(0);
      expect((await client.query('SELECT count(*)::int AS n FROM t')).rows).toEqual([{ n: ROWS }]);
    } finally {
      client.release();
    }
  });

  it('keeps the rows after a notice sent in the middle of the COPY', async () => {
    const client = await pool.connect();
    try {
      await client.query(`CREATE FUNCTION pg_temp.noisy(i bigint) RETURNS bigint AS $$
        BEGIN IF i % 20000 = 0 THEN RAISE NOTICE 'row %', i; END IF; RETURN i; END $$ LANGUAGE plpgsql`);
      const notices: string[] = [];
      client.on('notice', (notice) => notices.push(notice.message ?? ''));
      const copy = new CopyOutBuffer('COPY (SELECT pg_temp.noisy(id), name FROM t ORDER BY id) TO STDOUT');
      client.query(copy);
      expect((await copy.output).equals(expected(range(1, ROWS)))).toBe(true);
      expect(notices).toEqual(['row 20000', 'row 40000', 'row 60000']);
    } finally {
      client.release();
    }
  });

  it('rejects with the server error of a COPY that fails part-way, and the connection serves the next query', async () => {
    const client = await pool.connect();
    try {
      const copy = new CopyOutBuffer('COPY (SELECT id, 1 / (id - 30000) FROM t ORDER BY id) TO STDOUT');
      client.query(copy);
      await expect(copy.output).rejects.toMatchObject({ code: '22012' });
      expect((await client.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    } finally {
      client.release();
    }
  });

  it('rejects a COPY the server refuses outright', async () => {
    await expect(run(new CopyOutBuffer('COPY (SELECT nope FROM t) TO STDOUT'))).rejects.toMatchObject({ code: '42703' });
    expect((await pool.query('SELECT 2 AS two')).rows).toEqual([{ two: 2 }]);
  });
});
