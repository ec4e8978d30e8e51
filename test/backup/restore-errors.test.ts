import { deflateRawSync } from 'node:zlib';
import avro from 'avsc';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { avroSchema, headerMetadata } from '../../src/backup/avro-schema.js';
import { blockPrefix, encodeHeader } from '../../src/backup/container.js';
import { TABLES } from '../../src/tables.js';
import { avroFile, download, dump, loadHistorical, reports, restore, startBackupApp, BACKUP_BACKENDS, type BackupApp } from './setup.js';

const departments = (fields: object[], name = 'departments') => ({ type: 'record', name, fields });

for (const { label, backend } of BACKUP_BACKENDS) {
  describe.skipIf(!backend.available)(`POST /restore/{table}: files that are refused change nothing [${label}]`, () => {
    let t: BackupApp;
    let before: Awaited<ReturnType<typeof dump>>;
    let reportsBefore: unknown[];
    let employees: Buffer;
    beforeAll(async () => {
      t = await startBackupApp(backend);
      await loadHistorical(t.app);
      before = await dump(t.store);
      reportsBefore = await reports(t.app);
      employees = await download(t.app, 'hired_employees');
    });
    afterAll(() => t?.close());

    const refused = async (table: string, file: Buffer | undefined, status: number, error: string, query = '') => {
      const res = await restore(t.app, table, file, query);
      expect(res.statusCode, res.body).toBe(status);
      expect(res.json()).toMatchObject({ error });
      expect(await dump(t.store)).toEqual(before);
      expect(await reports(t.app)).toEqual(reportsBefore);
      return res.json() as { error: string; message: string; details?: Record<string, unknown> };
    };

    it('refuses a truncated file (cut inside a block) with 400, in replace and merge mode', async () => {
      const cut = employees.subarray(0, Math.floor(employees.length / 2));
      const body = await refused('hired_employees', cut, 400, 'BACKUP_INVALID');
      expect(body.message).toMatch(/cut short/);
      await refused('hired_employees', cut, 400, 'BACKUP_INVALID', '?mode=merge');
      // Cut inside the header.
      await refused('hired_employees', employees.subarray(0, 40), 400, 'BACKUP_INVALID');
    });

    it('refuses a file whose last block lost its sync marker', async () => {
      await refused('hired_employees', employees.subarray(0, employees.length - 5), 400, 'BACKUP_INVALID');
    });

    it('refuses a non-Avro file and an empty body with 400', async () => {
      const body = await refused('hired_employees', Buffer.from('1,Harold Vogt,2021-11-07T02:48:42Z,2,96\n'), 400, 'BACKUP_INVALID');
      expect(body.message).toMatch(/magic/);
      await refused('jobs', Buffer.alloc(0), 400, 'BACKUP_INVALID');
      await refused('jobs', undefined, 400, 'FILE_MISSING');
    });

    it('refuses hostile framing at once, without buffering or looping: a huge header count, a header over 1 MiB, a block over 64 MiB, a deflate bomb', async () => {
      const MiB = 1024 * 1024;
      const sync = Buffer.alloc(16, 7);
      const header = (extra: Record<string, Buffer> = {}) =>
        encodeHeader(JSON.stringify(avroSchema(TABLES.jobs)), 'deflate', { ...headerMetadata(TABLES.jobs), ...extra }, sync);
      // 2^50 metadata entries claimed by a 20-byte body.
      const count = avro.Type.forSchema('long').toBuffer(2 ** 50);
      const huge = await refused('jobs', Buffer.concat([Buffer.from('Obj\x01', 'latin1'), count, Buffer.alloc(8)]), 400, 'BACKUP_INVALID');
      expect(huge.message).toMatch(/cut short inside its header/);
      const long = await refused('jobs', header({ padding: Buffer.alloc(1.5 * MiB) }), 400, 'BACKUP_INVALID');
      expect(long.message).toMatch(/no Avro header in its first 1048576 bytes/);
      const big = await refused('jobs', Buffer.concat([header(), blockPrefix(1, 65 * MiB), Buffer.alloc(64)]), 400, 'BACKUP_INVALID');
      expect(big.message).toMatch(/a block is larger than 67108864 bytes/);
      const bomb = deflateRawSync(Buffer.alloc(65 * MiB));
      const inflated = await refused('jobs', Buffer.concat([header(), blockPrefix(1, bomb.length), bomb, sync]), 400, 'BACKUP_INVALID');
      expect(inflated.message).toMatch(/a block inflates to more than 67108864 bytes/);
      // A block of 3 bytes once inflated cannot hold 1,000 records (each takes a byte at least).
      const few = deflateRawSync(Buffer.from([2, 2, 0x41]));
      const liar = Buffer.concat([header(), blockPrefix(1000, few.length), few, sync]);
      expect((await refused('jobs', liar, 400, 'BACKUP_INVALID')).message).toMatch(/claims 1000 records in 3 bytes/);
    });

    it('refuses a corrupt block (deflate error) with 400', async () => {
      const corrupt = Buffer.from(employees);
      // Flip bytes in the middle of the first block's compressed data.
      const start = Math.floor(employees.length / 4);
      for (let i = start; i < start + 64; i++) corrupt.writeUInt8(corrupt.readUInt8(i) ^ 0xff, i);
      await refused('hired_employees', corrupt, 400, 'BACKUP_INVALID');
    });

    it('refuses a backup of another table with 400 SCHEMA_MISMATCH', async () => {
      const jobs = await download(t.app, 'jobs');
      const body = await refused('departments', jobs, 400, 'SCHEMA_MISMATCH');
      expect(body.message).toBe('The file is a backup of table "jobs", not "departments"');
      await refused('hired_employees', jobs, 400, 'SCHEMA_MISMATCH');
    });

    it('names the field whose type does not match, or that the table lacks or needs', async () => {
      const wrongType = await avroFile(
        departments([
          { name: 'id', type: 'long' },
          { name: 'department', type: 'long' },
        ]),
        [{ id: 1, department: 5 }],
      );
      const body = await refused('departments', wrongType, 400, 'SCHEMA_MISMATCH');
      expect(body.details).toEqual({ table: 'departments', field: 'department' });
      expect(body.message).toBe('Field "department" is "long" in the file; the table\'s is ["null","string"]');

      const extra = await avroFile(
        departments([
          { name: 'id', type: 'long' },
          { name: 'department', type: 'string' },
          { name: 'budget', type: 'long' },
        ]),
        [{ id: 1, department: 'X', budget: 3 }],
      );
      expect((await refused('departments', extra, 400, 'SCHEMA_MISMATCH')).details).toEqual({ table: 'departments', field: 'budget' });

      const noId = await avroFile(departments([{ name: 'department', type: 'string' }]), [{ department: 'X' }]);
      expect((await refused('departments', noId, 400, 'SCHEMA_MISMATCH')).details).toEqual({ table: 'departments', field: 'id' });

      const nullableId = await avroFile(departments([{ name: 'id', type: ['null', 'long'] }]), [{ id: 1 }]);
      expect((await refused('departments', nullableId, 400, 'SCHEMA_MISMATCH')).details).toEqual({ table: 'departments', field: 'id' });

      const newer = await avroFile({ ...departments([{ name: 'id', type: 'long' }]), 'hr.format_version': 2 }, [{ id: 1 }]);
      expect((await refused('departments', newer, 400, 'SCHEMA_MISMATCH')).message).toMatch(/format version 2 is newer/);

      const notRecords = await avroFile({ type: 'array', items: 'long' } as object, [[1, 2]]);
      await refused('departments', notRecords, 400, 'SCHEMA_MISMATCH');
    });

    it('refuses values the table cannot hold (id 0, a NUL in text), naming the record', async () => {
      const schema = departments([
        { name: 'id', type: 'long' },
        { name: 'department', type: 'string' },
      ]);
      const zero = await refused(
        'departments',
        await avroFile(schema, [
          { id: 1, department: 'A' },
          { id: 0, department: 'B' },
        ]),
        400,
        'BACKUP_INVALID',
      );
      expect(zero.details).toMatchObject({ record: 2, field: 'id' });
      const nul = await refused('departments', await avroFile(schema, [{ id: 1, department: 'A\u0000' }]), 400, 'BACKUP_INVALID');
      expect(nul.details).toMatchObject({ record: 1, field: 'department' });
    });

    it('refuses a file that holds an id twice, in replace and merge mode', async () => {
      const schema = departments([
        { name: 'id', type: 'long' },
        { name: 'department', type: 'string' },
      ]);
      const twice = await avroFile(schema, [
        { id: 1, department: 'A' },
        { id: 2, department: 'B' },
        { id: 1, department: 'C' },
      ]);
      const replace = await refused('departments', twice, 400, 'BACKUP_INVALID');
      expect(replace.details).toMatchObject({ field: 'id', id: 1 });
      const merge = await refused('departments', twice, 400, 'BACKUP_INVALID', '?mode=merge');
      expect(merge.details).toMatchObject({ field: 'id', id: 1 });
    });

    it('answers 404 for an unknown table or backup name, 400 for a name that leaves the folder, 415 for another type', async () => {
      await refused('salaries', employees, 404, 'TABLE_NOT_FOUND');
      await refused('jobs', undefined, 404, 'BACKUP_NOT_FOUND', '?from=jobs-20240101T000000.000Z.avro');
      for (const name of ['../../etc/passwd', '..%2F..%2Fetc%2Fpasswd', '%2Fetc%2Fpasswd', '.hidden.avro', 'a%2Fb.avro', '..avro'])
        await refused('jobs', undefined, 400, 'BACKUP_NAME_INVALID', `?from=${name}`);
      await refused('jobs', undefined, 400, 'VALIDATION_FAILED', '?mode=overwrite');
      const text = await t.app.inject({ method: 'POST', url: '/restore/jobs', payload: 'x', headers: { 'content-type': 'text/plain' } });
      expect(text.statusCode).toBe(415);
      const json = await t.app.inject({ method: 'POST', url: '/restore/jobs', payload: { a: 1 } });
      expect(json.statusCode).toBe(415);
      const both = await t.app.inject({
        method: 'POST',
        url: '/restore/hired_employees?from=x.avro',
        payload: employees,
        headers: { 'content-type': 'application/octet-stream' },
      });
      expect(both.statusCode).toBe(400);
      expect(await dump(t.store)).toEqual(before);
    });

    it('reads compatible evolution: int ids, another namespace, non-null types, ISO text datetimes, a column missing (NULL)', async () => {
      const older = await avroFile(
        {
          type: 'record',
          name: 'com.example.hired_employees',
          fields: [
            { name: 'id', type: 'int' },
            { name: 'name', type: 'string' },
            { name: 'datetime', type: 'string' },
            { name: 'department_id', type: 'int' },
          ],
        },
        [
          { id: 5001, name: 'Ada', datetime: '2021-03-31T23:30:00-03:00', department_id: 1 },
          { id: 5002, name: 'Grace', datetime: '2022-01-01T00:00:00.250Z', department_id: 2 },
        ],
        'null',
      );
      const res = await restore(t.app, 'hired_employees', older, '?mode=merge');
      expect(res.json()).toEqual({ table: 'hired_employees', restored: 2, mode: 'merge' });
      const rows = (await dump(t.store)).hired_employees!.filter((r) => (r.id as number) > 5000);
      expect(rows.map((r) => [r.id, r.name, r.ms, r.department_id, r.job_id])).toEqual([
        [5001, 'Ada', Date.parse('2021-04-01T02:30:00Z'), 1, null],
        [5002, 'Grace', Date.parse('2022-01-01T00:00:00.250Z'), 2, null],
      ]);
      if (backend.name === 'sqlite') expect(rows.map((r) => r.text)).toEqual(['2021-04-01T02:30:00.000Z', '2022-01-01T00:00:00.250Z']);
      // timestamp-micros (Spark, Java), truncated to the millisecond as stored; the `employees` alias as record name.
      const micros = await avroFile(
        {
          type: 'record',
          name: 'employees',
          fields: [
            { name: 'id', type: 'long' },
            { name: 'datetime', type: ['null', { type: 'long', logicalType: 'timestamp-micros' }] },
          ],
        },
        [{ id: 5003, datetime: Date.parse('2021-06-30T23:59:59.999Z') * 1000 + 999 }],
      );
      expect((await restore(t.app, 'hired_employees', micros, '?mode=merge')).json()).toMatchObject({ restored: 1 });
      const third = (await dump(t.store)).hired_employees!.find((r) => r.id === 5003)!;
      expect([third.name, third.ms, third.department_id]).toEqual([null, Date.parse('2021-06-30T23:59:59.999Z'), null]);
      // Put the table back as it was.
      expect((await restore(t.app, 'hired_employees', employees)).statusCode).toBe(200);
      expect(await dump(t.store)).toEqual(before);
    });
  });
}
