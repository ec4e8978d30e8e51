import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TABLE_NAMES } from '../../src/tables.js';
import { postgresBackend } from '../helpers/postgres.js';
import { sqliteBackend } from '../helpers/backends.js';
import { readContainer } from './avro-reader.js';
import { download, loadHistorical, reports, restore, startBackupApp, type BackupApp } from './setup.js';

describe.skipIf(!postgresBackend.available)('a backup moves a table between backends', () => {
  let sqlite: BackupApp;
  let postgres: BackupApp;
  beforeAll(async () => {
    [sqlite, postgres] = await Promise.all([startBackupApp(sqliteBackend), startBackupApp(postgresBackend)]);
    await loadHistorical(sqlite.app);
  });
  afterAll(async () => {
    await sqlite?.close();
    await postgres?.close();
  });

  it('SQLite → PostgreSQL → SQLite: the same records, the same reports', async () => {
    for (const table of TABLE_NAMES) {
      const fromSqlite = await download(sqlite.app, table);
      expect((await restore(postgres.app, table, fromSqlite)).statusCode).toBe(200);
      const fromPostgres = await download(postgres.app, table);
      expect(readContainer(fromPostgres).records).toEqual(readContainer(fromSqlite).records);
      expect((await restore(sqlite.app, table, fromPostgres)).statusCode).toBe(200);
    }
    expect(await reports(postgres.app)).toEqual(await reports(sqlite.app));
  });
});
