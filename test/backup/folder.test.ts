import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS, sqliteBackend } from '../helpers/backends.js';
import { auth, dump, loadHistorical, restore, startBackupApp, type BackupApp } from './setup.js';

const NAME = /^(departments|jobs|hired_employees)-\d{8}T\d{6}\.\d{3}Z(-\d+)?\.avro$/;

interface Listed {
  name: string;
  table: string | null;
  rows: number | null;
  bytes: number;
  created_at: string;
  complete: boolean;
}

for (const backend of BACKENDS) {
  describe.skipIf(!backend.available)(`POST /backup, GET /backups, POST /restore/{table}?from= [${backend.name}]`, () => {
    let t: BackupApp;
    beforeAll(async () => {
      t = await startBackupApp(backend);
      await loadHistorical(t.app);
    });
    afterAll(() => t?.close());

    it('writes every table into BACKUP_DIR, named by table and UTC time, lists them and restores each by name', async () => {
      const before = await dump(t.store);
      const res = await t.app.inject({ method: 'POST', url: '/backup' });
      expect(res.statusCode, res.body).toBe(200);
      const { files } = res.json() as { files: { name: string; table: string; rows: number; bytes: number; created_at: string }[] };
      expect(files.map((f) => [f.table, f.rows])).toEqual([
        ['departments', 12],
        ['jobs', 183],
        ['hired_employees', 1999],
      ]);
      for (const f of files) {
        expect(f.name).toMatch(NAME);
        expect(f.name.startsWith(`${f.table}-`)).toBe(true);
        expect(Math.abs(Date.parse(f.created_at) - Date.now())).toBeLessThan(60_000);
      }
      expect(readdirSync(t.dir).sort()).toEqual(files.map((f) => f.name).sort());

      // Only one table, then a file that is not a backup and one cut short: all listed, newest first.
      const one = (await t.app.inject({ method: 'POST', url: '/backup?table=employees' })).json() as { files: { name: string }[] };
      expect(one.files).toHaveLength(1);
      writeFileSync(join(t.dir, 'notes.avro'), 'not avro');
      const whole = files.find((f) => f.table === 'hired_employees')!;
      const cut = Buffer.from((await t.app.inject(`/backup/jobs`)).rawPayload);
      writeFileSync(join(t.dir, 'jobs-cut.avro'), cut.subarray(0, cut.length - 100));
      const listed = ((await t.app.inject('/backups')).json() as { backups: Listed[] }).backups;
      expect(listed.find((b) => b.name === whole.name)).toEqual({ ...whole, complete: true });
      // Newest first (a file the service did not name is dated by its modification time).
      expect(listed.filter((b) => NAME.test(b.name))[0]!.name).toBe(one.files[0]!.name);
      expect(listed.map((b) => b.created_at)).toEqual(
        listed
          .map((b) => b.created_at)
          .sort()
          .reverse(),
      );
      expect(listed.find((b) => b.name === 'notes.avro')).toMatchObject({ table: null, rows: null, complete: false });
      expect(listed.find((b) => b.name === 'jobs-cut.avro')).toMatchObject({ table: 'jobs', complete: false });

      await t.app.inject({ method: 'POST', url: '/reset-db' });
      for (const f of files) {
        const restored = await restore(t.app, f.table, undefined, `?from=${encodeURIComponent(f.name)}`);
        expect(restored.json()).toEqual({ table: f.table, restored: f.rows, mode: 'replace' });
      }
      expect(await dump(t.store)).toEqual(before);
      expect((await restore(t.app, 'jobs', undefined, '?from=jobs-cut.avro')).json()).toMatchObject({ error: 'BACKUP_INVALID' });
      expect((await restore(t.app, 'jobs', undefined, '?from=notes.avro')).json()).toMatchObject({ error: 'BACKUP_INVALID' });
      expect(await dump(t.store)).toEqual(before);
    });

    it('lists an empty (or missing) folder as no backups', async () => {
      const other = await startBackupApp(backend, { BACKUP_DIR: join(t.dir, 'not-yet') });
      try {
        expect((await other.app.inject('/backups')).json()).toEqual({ backups: [] });
        expect(existsSync(join(t.dir, 'not-yet'))).toBe(false);
      } finally {
        await other.close();
      }
    });
  });
}

describe('backup and restore with API_KEY set', () => {
  let t: BackupApp;
  const KEY = 'backup-test-key';
  beforeAll(async () => {
    t = await startBackupApp(sqliteBackend, { API_KEY: KEY });
    await loadHistorical(t.app, KEY);
  });
  afterAll(() => t?.close());

  it('requires the key to take, list, download and restore backups (401, nothing written)', async () => {
    expect((await t.app.inject({ method: 'POST', url: '/backup' })).statusCode).toBe(401);
    expect(readdirSync(t.dir)).toEqual([]);
    expect((await t.app.inject('/backup/jobs')).statusCode).toBe(401);
    expect((await t.app.inject('/backups')).statusCode).toBe(401);
    const file = (await t.app.inject({ url: '/backup/jobs', headers: auth(KEY) })).rawPayload;
    expect((await t.app.inject({ url: '/backups', headers: auth(KEY) })).statusCode).toBe(200);
    const before = await dump(t.store);
    const anonymous = await restore(t.app, 'jobs', file, '?mode=replace');
    expect(anonymous.statusCode).toBe(401);
    expect(anonymous.json()).toMatchObject({ error: 'UNAUTHORIZED' });
    const wrong = await restore(t.app, 'jobs', file, '', { headers: { 'content-type': 'application/octet-stream', ...auth('nope') } });
    expect(wrong.statusCode).toBe(401);
    expect(await dump(t.store)).toEqual(before);

    expect((await t.app.inject({ method: 'POST', url: '/backup', headers: auth(KEY) })).statusCode).toBe(200);
    const ok = await restore(t.app, 'jobs', file, '', { headers: { 'content-type': 'application/octet-stream', ...auth(KEY) } });
    expect(ok.json()).toEqual({ table: 'jobs', restored: 183, mode: 'replace' });
  });
});
