import { copyFileSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sqliteBackend } from '../helpers/backends.js';
import { loadHistorical, startBackupApp, type BackupApp } from '../backup/setup.js';

describe('BACKUP_DIR: symbolic links out of the folder are not followed', () => {
  let t: BackupApp;
  let outside: string;
  let jobsBackup: string;
  beforeAll(async () => {
    t = await startBackupApp(sqliteBackend);
    await loadHistorical(t.app);
    const res = await t.app.inject({ method: 'POST', url: '/backup?table=jobs' });
    jobsBackup = (res.json() as { files: { name: string }[] }).files[0]!.name;
    // A valid backup outside the folder: following a link to it would restore it.
    outside = mkdtempSync(join(tmpdir(), 'hr-outside-'));
    copyFileSync(join(t.dir, jobsBackup), join(outside, 'secret.avro'));
    symlinkSync(join(outside, 'secret.avro'), join(t.dir, 'escape.avro'));
    symlinkSync('../' + join(outside.split('/').pop()!, 'secret.avro'), join(t.dir, 'relative-escape.avro'));
    symlinkSync(jobsBackup, join(t.dir, 'alias.avro'));
  });
  afterAll(async () => {
    await t?.close();
    rmSync(outside, { recursive: true, force: true });
  });

  it('refuses ?from= a link whose target is outside BACKUP_DIR (404, nothing restored), and does not list it', async () => {
    const before = (await t.app.inject('/tables')).json();
    for (const name of ['escape.avro', 'relative-escape.avro']) {
      const res = await t.app.inject({ method: 'POST', url: `/restore/jobs?from=${name}` });
      expect(res.statusCode, res.body).toBe(404);
      expect(res.json().error).toBe('BACKUP_NOT_FOUND');
    }
    expect((await t.app.inject('/tables')).json()).toEqual(before);
    const listed = (await t.app.inject('/backups')).json().backups.map((b: { name: string }) => b.name);
    expect(listed).not.toContain('escape.avro');
    expect(listed).not.toContain('relative-escape.avro');
    expect(listed).toContain(jobsBackup);
  });

  it('follows a link to another file of the folder', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/restore/jobs?from=alias.avro' });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json().restored).toBe(183);
  });
});
