import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { UploadRecord } from '../../src/store/store.js';
import { listen } from '../helpers/app.js';
import { BACKENDS } from '../helpers/backends.js';
import { counts, startWrappedApp, type WrappedApp } from './support/app.js';
import { MULTIPART_TYPE, waitFor } from './support/http.js';

const BOUNDARY_HEAD = `--${MULTIPART_TYPE.split('boundary=')[1]}\r\nContent-Disposition: form-data; name="file"; filename="e.csv"\r\nContent-Type: text/csv\r\n\r\n`;

const employees = (from: number, to: number): string => {
  let text = '';
  for (let id = from; id <= to; id++) text += `${id},Employee ${id},2021-05-0${1 + (id % 9)}T10:00:00Z,1,1\n`;
  return text;
};

for (const backend of BACKENDS) {
  describe.skipIf(!backend.available)(`a client that disconnects mid-upload [${backend.name}]`, () => {
    let t: WrappedApp;
    let url: string;
    const saved: UploadRecord[] = [];
    const chunks = { written: 0 };
    let rolledBackAt: number | undefined;

    beforeAll(async () => {
      t = await startWrappedApp(backend, {
        openLoad: async (base, table, options) => {
          const session = await base.openLoad(table, options);
          return {
            write: async (rows) => {
              const outcome = await session.write(rows);
              chunks.written++;
              return outcome;
            },
            finish: () => session.finish(),
            commit: (record, rejects) => session.commit(record, rejects),
            rollback: async () => {
              await session.rollback();
              rolledBackAt = performance.now();
            },
          };
        },
        saveUpload: async (base, record, rejects) => {
          // Recorded once stored: the test reads the log as soon as it sees the record.
          await base.saveUpload(record, rejects);
          saved.push(record);
        },
      });
      url = await listen(t.app);
      const departments = await t.app.inject({
        method: 'POST',
        url: '/upload/departments',
        payload: '1,Engineering\n2,Sales\n3,Support\n',
        headers: { 'content-type': 'text/csv' },
      });
      expect(departments.json()).toMatchObject({ status: 'committed', inserted: 3 });
    });
    afterAll(() => t?.close());

    for (const mode of ['text/csv', 'multipart'] as const) {
      it(`rolls back within a second, logs the upload as aborted and keeps serving (${mode}, real socket)`, async () => {
        chunks.written = 0;
        rolledBackAt = undefined;
        saved.length = 0;
        const req = request(`${url}/upload/hired_employees?batch_size=100`, {
          method: 'POST',
          headers: { 'content-type': mode === 'text/csv' ? 'text/csv' : MULTIPART_TYPE },
        });
        req.on('error', () => undefined);
        if (mode === 'multipart') req.write(BOUNDARY_HEAD);
        // Rows keep coming until the server has written a few chunks into the open transaction.
        let next = 1;
        while (chunks.written < 3) {
          req.write(employees(next, next + 99));
          next += 100;
          await new Promise((resolve) => setTimeout(resolve, 5));
          if (next > 100_000) throw new Error('the server wrote no chunk');
        }
        const cut = performance.now();
        req.destroy();

        await waitFor(() => rolledBackAt !== undefined, 5000);
        const rollbackMs = rolledBackAt! - cut;
        console.log(`[${backend.name}, ${mode}] rolled back ${rollbackMs.toFixed(1)} ms after the disconnect`);
        expect(rollbackMs).toBeLessThan(1000);

        await waitFor(() => saved.length > 0, 5000);
        const report = (await t.app.inject(`/uploads/${saved[0]!.upload_id}`)).json();
        expect(report).toMatchObject({ status: 'aborted', table: 'hired_employees' });
        expect(report.received).toBeGreaterThanOrEqual(300);

        expect(await counts(t.app)).toEqual({ departments: 3, jobs: 0, hired_employees: 0 });
        expect((await t.app.inject('/health')).statusCode).toBe(200);
        // Nothing of the aborted upload lingers: the same ids load now.
        const again = await t.app.inject({
          method: 'POST',
          url: '/upload/hired_employees',
          payload: employees(1, 300),
          headers: { 'content-type': 'text/csv' },
        });
        expect(again.json()).toMatchObject({ status: 'committed', inserted: 300, rejected: 0 });
        expect((await t.app.inject({ method: 'POST', url: '/reset-db' })).statusCode).toBe(200);
        await t.app.inject({
          method: 'POST',
          url: '/upload/departments',
          payload: '1,Engineering\n2,Sales\n3,Support\n',
          headers: { 'content-type': 'text/csv' },
        });
      });
    }
  });
}
