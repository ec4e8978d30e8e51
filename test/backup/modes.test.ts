import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { download, dump, reports, restore, startBackupApp, BACKUP_BACKENDS, type BackupApp } from './setup.js';

const csv = (text: string) => ({ payload: text, headers: { 'content-type': 'text/csv' } });

for (const { label, backend } of BACKUP_BACKENDS) {
  describe.skipIf(!backend.available)(`POST /restore/{table}?mode=merge|replace [${label}]`, () => {
    let t: BackupApp;
    beforeAll(async () => {
      t = await startBackupApp(backend);
    });
    afterAll(() => t?.close());

    const upload = async (table: string, text: string, query = '') => {
      const res = await t.app.inject({ method: 'POST', url: `/upload/${table}${query}`, ...csv(text) });
      expect(res.statusCode, res.body).toBe(200);
    };
    const rows = async () => (await dump(t.store)).hired_employees!.map((r) => [r.id, r.name, r.ms, r.department_id, r.job_id] as const);
    const at = (iso: string) => Date.parse(iso);

    it("merge upserts the backup's rows by id and keeps the others; replace makes the table exactly the backup; the reports follow", async () => {
      await t.app.inject({ method: 'POST', url: '/reset-db' });
      await upload('departments', '1,Sales\n2,Legal\n');
      await upload('jobs', '1,Clerk\n2,Judge\n');
      await upload('hired_employees', '1,Ann,2021-01-10T00:00:00Z,1,1\n2,Bob,2021-05-10T00:00:00Z,2,\n3,Cid,2021-08-10T00:00:00Z,1,2\n');
      const snapshot = await download(t.app, 'hired_employees');
      const backedUp = await rows();
      const reportsBackedUp = await reports(t.app);

      // After the backup: Bob moves to Sales with a job, Cid is gone from Q3 to Q4, Dee is hired.
      await upload(
        'hired_employees',
        '2,Bob,2021-05-10T00:00:00Z,1,1\n3,Cid,2021-11-10T00:00:00Z,2,2\n4,Dee,2021-02-01T00:00:00Z,2,1\n',
        '?on_conflict=update',
      );
      const changedReports = await reports(t.app);
      expect(changedReports).not.toEqual(reportsBackedUp);

      const merge = await restore(t.app, 'hired_employees', snapshot, '?mode=merge');
      expect(merge.json()).toEqual({ table: 'hired_employees', restored: 3, mode: 'merge' });
      expect(await rows()).toEqual([...backedUp, [4, 'Dee', at('2021-02-01T00:00:00Z'), 2, 1]]);
      // The counts moved back with the rows, and Dee's hire is still counted.
      const merged = (await t.app.inject('/metrics/hired-employees?year=2021')).json();
      expect(merged).toEqual([
        { department: 'Legal', job: 'Clerk', Q1: 1, Q2: 0, Q3: 0, Q4: 0 },
        { department: 'Sales', job: 'Clerk', Q1: 1, Q2: 0, Q3: 0, Q4: 0 },
        { department: 'Sales', job: 'Judge', Q1: 0, Q2: 0, Q3: 1, Q4: 0 },
      ]);

      const replace = await restore(t.app, 'hired_employees', snapshot, '?mode=replace');
      expect(replace.json()).toEqual({ table: 'hired_employees', restored: 3, mode: 'replace' });
      expect(await rows()).toEqual(backedUp);
      expect(await reports(t.app)).toEqual(reportsBackedUp);
      // The default mode is replace.
      await upload('hired_employees', '9,Eve,2021-02-01T00:00:00Z,2,1\n');
      expect((await restore(t.app, 'hired_employees', snapshot)).json()).toMatchObject({ mode: 'replace', restored: 3 });
      expect(await rows()).toEqual(backedUp);
    });
  });
}
