/**
 * The store goes by the dictionary's primary key (ColumnDef.primaryKey), not by a column 0 named
 * `id`: a table whose key is its second column, named `code`, is loaded, inserted, exported and
 * restored by that key on the stores themselves (routes only serve the dictionary's tables).
 */
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeAvroPages } from '../../src/backup/encode.js';
import { openStore } from '../../src/store/open-store.js';
import type { Store, UploadRecord } from '../../src/store/store.js';
import { primaryKeyOf, TABLES, type Row, type TableDef, type TableName } from '../../src/tables.js';
import { readContainer } from '../backup/avro-reader.js';
import { BACKENDS, type Backend, type TestDatabase } from '../helpers/backends.js';

const WIDGETS: TableDef = {
  name: 'widgets' as TableName,
  description: 'A table whose key is not first',
  columns: [
    { name: 'label', type: 'text', description: 'Label', example: 'a' },
    { name: 'code', type: 'integer', primaryKey: true, description: 'Key', example: 1 },
  ],
};
// As migration 001 declares the dictionary's integer keys on each backend.
const DDL = {
  sqlite: 'CREATE TABLE widgets (label TEXT, code INTEGER PRIMARY KEY)',
  postgres: 'CREATE TABLE widgets (label TEXT, code BIGINT PRIMARY KEY)',
};

/** The rows as importRows takes them: pages (of 700, so that they straddle the stores' statements of 64 rows). */
async function* each(rows: Row[]): AsyncIterable<Row[]> {
  for (let i = 0; i < rows.length; i += 700) yield rows.slice(i, i + 700);
}
const all = async (pages: AsyncIterable<readonly Row[]>): Promise<Row[]> => {
  const out: Row[] = [];
  for await (const page of pages) out.push(...page);
  return out;
};
const failure = (promise: Promise<unknown>) =>
  promise.then(
    () => undefined,
    (error: unknown) => error as { code: string; message: string; details: unknown },
  );

describe('primaryKeyOf', () => {
  it("answers each dictionary table's key column and its place", () => {
    for (const table of Object.values(TABLES)) expect(primaryKeyOf(table)).toEqual({ name: 'id', index: 0 });
    expect(primaryKeyOf(WIDGETS)).toEqual({ name: 'code', index: 1 });
  });

  it('refuses a table without exactly one integer key', () => {
    const keyless: TableDef = { ...WIDGETS, columns: [WIDGETS.columns[0]!] };
    expect(() => primaryKeyOf(keyless)).toThrow(/exactly one integer primaryKey/);
    const twice: TableDef = { ...WIDGETS, columns: [WIDGETS.columns[1]!, { ...WIDGETS.columns[1]!, name: 'other' }] };
    expect(() => primaryKeyOf(twice)).toThrow(/exactly one integer primaryKey/);
  });
});

interface Opened {
  store: Store;
  done(): Promise<void>;
}

/** A migrated store with the widgets table beside the dictionary's (SQLite on a file: a second connection creates it). */
async function open(backend: Backend): Promise<Opened> {
  let db: TestDatabase;
  let dir: string | undefined;
  if (backend.name === 'sqlite') {
    dir = mkdtempSync(join(tmpdir(), 'hr-pk-'));
    const path = join(dir, 'db.sqlite');
    db = { url: `sqlite:${path}`, drop: async () => undefined };
    const raw = new Database(path);
    raw.exec(DDL.sqlite);
    raw.close();
  } else {
    db = await backend.create();
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    await client.query(DDL.postgres);
    await client.end();
  }
  const store = await openStore({ DATABASE_URL: db.url, PG_POOL_MAX: 4 });
  await store.migrate();
  return {
    store,
    done: async () => {
      await store.close();
      await db.drop();
      if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    },
  };
}

const record = (): UploadRecord => ({
  upload_id: `pk-${Math.random()}`,
  table: 'departments',
  source: 'csv',
  status: 'committed',
  received: 0,
  inserted: 0,
  updated: 0,
  rejected: 0,
  incomplete: 0,
  batch_size: 1000,
  strict: false,
  dry_run: false,
  on_conflict: 'update',
  started_at: new Date().toISOString(),
  elapsed_ms: 0,
  message: null,
});

for (const backend of BACKENDS) {
  describe.skipIf(!backend.available)(`a table keyed by its second column [${backend.name}]`, () => {
    let o: Opened;
    beforeAll(async () => {
      o = await open(backend);
    });
    afterAll(() => o?.done());

    it('inserts a batch, refusing a stored key by its name', async () => {
      expect(
        await o.store.insertRows(WIDGETS, [
          ['b', 20],
          ['a', 10],
        ]),
      ).toBe(2);
      const error = await failure(
        o.store.insertRows(WIDGETS, [
          ['c', 30],
          ['again', 10],
        ]),
      );
      expect(error).toMatchObject({
        code: 'DUPLICATE_ID',
        message: '1 code(s) already exist; nothing was inserted',
        details: { ids: [10] },
      });
      expect(await all(o.store.exportRows(WIDGETS))).toEqual([
        ['a', 10],
        ['b', 20],
      ]);
    });

    it('exports in key order across keyset pages', async () => {
      await o.store.importRows(WIDGETS, each(Array.from({ length: 2500 }, (_, i): Row => [`w${2500 - i}`, 2500 - i])), 'replace');
      const rows = await all(o.store.exportRows(WIDGETS));
      expect(rows).toHaveLength(2500);
      expect(rows.map((r) => r[1])).toEqual(Array.from({ length: 2500 }, (_, i) => i + 1));
      // The backup's records too (PostgreSQL: straight from COPY's text), keyed by the second column.
      const chunks: Buffer[] = [];
      for await (const chunk of encodeAvroPages(WIDGETS, o.store.exportAvro(WIDGETS))) chunks.push(chunk as Buffer);
      const records = readContainer(Buffer.concat(chunks)).records;
      expect(records).toEqual(rows.map(([label, code]) => ({ label, code })));
    });

    it('merges by the key and refuses a key the file holds twice, naming the key', async () => {
      await o.store.importRows(
        WIDGETS,
        each([
          ['one', 1],
          ['new', 9000],
        ]),
        'merge',
      );
      const rows = await all(o.store.exportRows(WIDGETS));
      expect(rows[0]).toEqual(['one', 1]);
      expect(rows.at(-1)).toEqual(['new', 9000]);
      for (const mode of ['merge', 'replace'] as const) {
        const error = await failure(
          o.store.importRows(
            WIDGETS,
            each([
              ['x', 5],
              ['y', 6],
              ['z', 5],
            ]),
            mode,
          ),
        );
        expect(error, mode).toMatchObject({ code: 'BACKUP_INVALID', details: { field: 'code', id: 5 } });
      }
      expect(await all(o.store.exportRows(WIDGETS))).toHaveLength(2501);
    });

    it.skipIf(backend.name !== 'sqlite')('loads an upload: a stored key is updated by it, or rejected naming it', async () => {
      await o.store.importRows(
        WIDGETS,
        each([
          ['a', 1],
          ['b', 2],
        ]),
        'replace',
      );
      const staged = (values: Row, line: number) => ({ line, raw: values.join(','), values, incomplete: false });
      const update = await o.store.openLoad(WIDGETS, { onConflict: 'update', checkReferences: false });
      const written = await update.write([staged(['A', 1], 1), staged(['c', 3], 2)]);
      const finished = await update.finish();
      expect(written.inserted + finished.inserted).toBe(1);
      expect(written.updated + finished.updated).toBe(1);
      await update.commit(record(), each([]) as AsyncIterable<never>);
      expect(await all(o.store.exportRows(WIDGETS))).toEqual([
        ['A', 1],
        ['b', 2],
        ['c', 3],
      ]);

      const reject = await o.store.openLoad(WIDGETS, { onConflict: 'reject', checkReferences: false });
      const outcome = await reject.write([staged(['B', 2], 1)]);
      const rest = await reject.finish();
      expect([...outcome.rejected, ...rest.rejected]).toEqual([{ line: 1, raw: 'B,2', reason: 'duplicate code 2' }]);
      await reject.rollback();
    });
  });
}
