/**
 * Two modules reach into a library's private fields (no public API tells what they need):
 * src/backup/decode.ts reads avsc's BlockDecoder `_tap` and `_syncMarker`, and
 * src/store/postgres/copy-text.ts replaces pg-copy-streams' `connection` after a failed COPY.
 * Both libraries are pinned to the exact version those modules were written against, and these
 * tests fail when the installed library is another one or no longer has those fields.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import avro from 'avsc';
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
  it.each(['avsc', 'pg-copy-streams'])('%s is pinned to one exact version in package.json, and that version is installed', (name) => {
    expect(manifest.dependencies[name]).toMatch(/^\d+\.\d+\.\d+$/);
    expect(installed(name)).toBe(manifest.dependencies[name]);
  });

  it("avsc's BlockDecoder keeps its unread bytes in _tap {buf, pos} and its sync marker in _syncMarker (null before the header)", async () => {
    const type = avro.Type.forSchema({ type: 'record', name: 'r', fields: [{ name: 'id', type: 'long' }] });
    const chunks: Buffer[] = [];
    const encoder = new avro.streams.BlockEncoder(type);
    encoder.on('data', (chunk: Buffer) => chunks.push(chunk));
    const ended = new Promise((resolve) => encoder.on('end', resolve));
    for (let id = 1; id <= 3; id++) encoder.write({ id });
    encoder.end();
    await ended;
    const file = Buffer.concat(chunks);

    const decoder = new avro.streams.BlockDecoder();
    const state = decoder as unknown as { _tap: { buf: Buffer; pos: number }; _syncMarker: Buffer | null };
    expect(state._syncMarker).toBeNull();
    const records: unknown[] = [];
    decoder.on('data', (record: unknown) => records.push(record));
    const done = new Promise((resolve) => decoder.on('end', resolve));
    // All but the last 5 bytes: the header is read, the tail of the last block is not.
    decoder.write(file.subarray(0, file.length - 5));
    await new Promise((resolve) => setImmediate(resolve));
    expect(Buffer.isBuffer(state._syncMarker)).toBe(true);
    expect(Buffer.isBuffer(state._tap.buf)).toBe(true);
    expect(state._tap.buf.length - state._tap.pos).toBeGreaterThan(0);
    decoder.end(file.subarray(file.length - 5));
    await done;
    expect(records).toHaveLength(3);
    expect(state._tap.buf.length - state._tap.pos).toBe(0);
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
