/**
 * A module reaches into a library's private fields (no public API tells what it needs):
 * src/store/postgres/copy-text.ts replaces pg-copy-streams' `connection` after a failed COPY.
 * The library is pinned to the exact version that module was written against, and these tests
 * fail when the installed library is another one or no longer has that field. (The backup
 * decoder once read avsc's BlockDecoder `_tap` and `_syncMarker`; it now frames the container
 * itself with avsc's public Type#decode.)
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestDatabase } from '../helpers/backends.js';
import { postgresBackend } from '../helpers/postgres.js';

const require = createRequire(import.meta.url);
const manifest = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  dependencies: Record<string, string>;
};
const installed = (name: string): string => (require(`${name}/package.json`) as { version: string }).version;

describe('libraries whose private fields the service uses', () => {
  it.each(['pg-copy-streams'])('%s is pinned to one exact version in package.json, and that version is installed', (name) => {
    expect(manifest.dependencies[name]).toMatch(/^\d+\.\d+\.\d+$/);
    expect(installed(name)).toBe(manifest.dependencies[name]);
  });
});

describe.skipIf(!postgresBackend.available)('pg-copy-streams after a COPY the server rejects [postgres]', () => {
  let db: TestDatabase;
  let pool: pg.Pool;
  beforeAll(async () => {
    db = await postgresBackend.create();
    pool = new pg.Pool({ connectionString: db.url, max: 1 });
    await pool.query('CREATE TABLE t (id BIGINT PRIMARY KEY)');
    await pool.query('INSERT INTO t VALUES (1)');
  });
  afterAll(async () => {
    await pool.end();
    await db.drop();
  });

  it('holds the connection in `connection` while copying and sets it to null after its error listeners ran', async () => {
    const client = await pool.connect();
    try {
      const stream = client.query(copyFrom('COPY t (id) FROM STDIN'));
      const state = stream as unknown as { connection: unknown };
      const failed = new Promise<{ during: unknown; after: unknown }>((resolve) => {
        stream.once('error', () => {
          const during = state.connection;
          queueMicrotask(() => resolve({ during, after: state.connection }));
        });
      });
      stream.write('2\n');
      await new Promise((resolve) => setImmediate(resolve));
      expect(state.connection).toBeTypeOf('object');
      expect(state.connection).not.toBeNull();
      stream.end('1\n');
      const { during, after } = await failed;
      expect(during).not.toBeNull();
      expect(after).toBeNull();
    } finally {
      client.release();
    }
  });
});
