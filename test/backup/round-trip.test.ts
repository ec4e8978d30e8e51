import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TABLE_NAMES } from '../../src/tables.js';
import { expectedReports, multipart } from '../helpers/http.js';
import { readContainer } from './avro-reader.js';
import { download, dump, loadHistorical, reports, restore, startBackupApp, BACKUP_BACKENDS, type BackupApp } from './setup.js';

for (const { label, backend } of BACKUP_BACKENDS) {
  describe.skipIf(!backend.available)(`backup and restore of the historical data [${label}]`, () => {
    let t: BackupApp;
    beforeAll(async () => {
      t = await startBackupApp(backend);
      await loadHistorical(t.app);
    });
    afterAll(() => t?.close());

    it('GET /backup/{table} answers a deflate Avro container named after the table, its schema from the dictionary', async () => {
      const res = await t.app.inject('/backup/hired_employees');
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toBe('avro/binary');
      expect(res.headers['content-disposition']).toMatch(/^attachment; filename="hired_employees-\d{8}T\d{6}\.\d{3}Z\.avro"$/);
      const file = readContainer(res.rawPayload);
      expect(file.codec).toBe('deflate');
      expect(file.metadata['hr.table']?.toString()).toBe('hired_employees');
      expect(file.metadata['hr.format_version']?.toString()).toBe('1');
      expect(file.schema).toMatchObject({
        type: 'record',
        name: 'hired_employees',
        namespace: 'hr_migration',
        'hr.table': 'hired_employees',
        'hr.format_version': 1,
        fields: [
          { name: 'id', type: 'long' },
          { name: 'name', type: ['null', 'string'], default: null },
          { name: 'datetime', type: ['null', { type: 'long', logicalType: 'timestamp-millis' }], default: null },
          { name: 'department_id', type: ['null', 'long'], default: null },
          { name: 'job_id', type: ['null', 'long'], default: null },
        ],
      });
      expect(file.records).toHaveLength(1999);
      expect(file.records[0]).toEqual({
        id: 1,
        name: 'Harold Vogt',
        datetime: Date.parse('2021-11-07T02:48:42Z'),
        department_id: 2,
        job_id: 96,
      });
      // Row 2 of the CSV has an empty job_id: NULL in the table, null in the file.
      expect(file.records[1]).toMatchObject({ id: 2, job_id: null });
      const withNull = file.records.filter((r) => Object.values(r).includes(null));
      expect(withNull).toHaveLength(expectedReports().counts.incomplete);
      // In id order.
      expect(file.records.map((r) => r.id)).toEqual([...file.records.map((r) => r.id as number)].sort((a, b) => a - b));
    });

    it('backs up every table, restores each after a reset: every row equal, NULLs kept, both reports identical', async () => {
      const before = await dump(t.store);
      const reportsBefore = await reports(t.app);
      const files = Object.fromEntries(await Promise.all(TABLE_NAMES.map(async (name) => [name, await download(t.app, name)] as const)));

      expect((await t.app.inject({ method: 'POST', url: '/reset-db' })).statusCode).toBe(200);
      expect((await dump(t.store)).hired_employees).toEqual([]);

      // One body of each kind: multipart field `file`, application/octet-stream, avro/binary.
      const viaMultipart = await t.app.inject({
        method: 'POST',
        url: '/restore/departments',
        ...multipart(files.departments!, { filename: 'departments.avro' }),
      });
      expect(viaMultipart.statusCode).toBe(200);
      expect(viaMultipart.json()).toEqual({ table: 'departments', restored: 12, mode: 'replace' });
      expect((await restore(t.app, 'jobs', files.jobs!)).json()).toEqual({ table: 'jobs', restored: 183, mode: 'replace' });
      const employees = await t.app.inject({
        method: 'POST',
        url: '/restore/employees?mode=replace',
        payload: files.hired_employees!,
        headers: { 'content-type': 'avro/binary' },
      });
      expect(employees.json()).toEqual({ table: 'hired_employees', restored: 1999, mode: 'replace' });

      const after = await dump(t.store);
      expect(after).toEqual(before);
      expect(after.hired_employees!.filter((r) => Object.values(r).includes(null as never))).toHaveLength(
        expectedReports().counts.incomplete,
      );
      expect(await reports(t.app)).toEqual(reportsBefore);
      const expected = expectedReports();
      expect(reportsBefore).toEqual([
        expected.hired_employees_2021,
        expected.departments_above_mean_2021,
        expected.hired_employees_2022,
        expected.departments_above_mean_2022,
      ]);
      // A second backup holds the very same records (the bytes differ: the sync marker is random).
      for (const name of TABLE_NAMES)
        expect(readContainer(await download(t.app, name)).records).toEqual(readContainer(files[name]!).records);
    });

    it('backs up an empty table as a valid file of no rows, which restores to an empty table', async () => {
      await t.app.inject({ method: 'POST', url: '/reset-db' });
      const file = await download(t.app, 'jobs');
      expect(readContainer(file)).toMatchObject({ records: [], blocks: 0 });
      await loadHistorical(t.app);
      expect((await restore(t.app, 'jobs', file)).json()).toEqual({ table: 'jobs', restored: 0, mode: 'replace' });
      expect((await dump(t.store)).jobs).toEqual([]);
    });
  });
}
