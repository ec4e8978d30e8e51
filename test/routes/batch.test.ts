import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { BACKENDS } from '../helpers/backends.js';
import { startApp, type TestApp } from '../helpers/app.js';

const employee = (id: number, overrides: Record<string, unknown> = {}) => ({
  id,
  name: `Person ${id}`,
  datetime: '2021-07-01T12:00:00Z',
  department_id: 1,
  job_id: 1,
  ...overrides,
});

for (const backend of BACKENDS) {
  describe.skipIf(!backend.available)(`POST /batch/:table [${backend.name}]`, () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await startApp(backend);
    });
    afterAll(() => t.close());
    beforeEach(async () => {
      await t.app.inject({ method: 'POST', url: '/reset-db' });
    });

    const batch = (table: string, payload: unknown) => t.app.inject({ method: 'POST', url: `/batch/${table}`, payload: payload as object });
    const rows = async (table: string) =>
      ((await t.app.inject('/tables')).json() as { tables: { name: string; rows: number }[] }).tables.find((x) => x.name === table)!.rows;

    it('inserts one row and answers 201 {table, inserted}', async () => {
      const res = await batch('departments', [{ id: 1, department: 'Sales' }]);
      expect(res.statusCode).toBe(201);
      expect(res.json()).toEqual({ table: 'departments', inserted: 1 });
    });

    it('inserts 1000 rows and refuses 1001 with 400', async () => {
      const thousand = Array.from({ length: 1000 }, (_, i) => employee(i + 1));
      const ok = await batch('hired_employees', thousand);
      expect(ok.statusCode).toBe(201);
      expect(ok.json().inserted).toBe(1000);
      const tooMany = await batch(
        'hired_employees',
        Array.from({ length: 1001 }, (_, i) => employee(5000 + i)),
      );
      expect(tooMany.statusCode).toBe(400);
      expect(tooMany.json()).toMatchObject({ error: 'VALIDATION_FAILED' });
      expect(tooMany.json().message).toMatch(/1 to 1000 rows; this one has 1001/);
      expect(await rows('hired_employees')).toBe(1000);
    });

    it('refuses an empty array and a body that is not an array', async () => {
      expect((await batch('jobs', [])).statusCode).toBe(400);
      expect((await batch('jobs', { id: 1, job: 'x' })).statusCode).toBe(400);
    });

    it('inserts nothing when one row is invalid, and names every problem with its index and field', async () => {
      const res = await batch('hired_employees', [
        employee(1),
        employee(2, { datetime: '2021-02-30T10:00:00Z' }),
        employee(3, { department_id: '4' }),
        { id: 4, name: 'No job', datetime: '2021-01-01T00:00:00Z', department_id: 1 },
        employee(5, { extra: true }),
        employee(6, { id: 0 }),
      ]);
      expect(res.statusCode).toBe(400);
      const body = res.json();
      expect(body.error).toBe('ROWS_INVALID');
      expect(body.details).toEqual([
        { index: 1, field: 'datetime', reason: expect.stringMatching(/not a valid ISO 8601 instant/) },
        { index: 2, field: 'department_id', reason: 'must be an integer' },
        { index: 3, field: 'job_id', reason: 'is required' },
        { index: 4, field: 'extra', reason: 'unknown field' },
        { index: 5, field: 'id', reason: expect.stringMatching(/positive integer/) },
      ]);
      expect(await rows('hired_employees')).toBe(0);
      // The rejected rows are logged like an upload's.
      const id = /\/uploads\/([0-9a-f-]+)/.exec(body.message)![1]!;
      const log = await t.app.inject(`/uploads/${id}`);
      expect(log.json()).toMatchObject({ source: 'batch', status: 'failed', rejected: 5, received: 6 });
      const rejects = await t.app.inject(`/uploads/${id}/rejects.csv`);
      expect(rejects.body.split('\r\n').filter(Boolean)).toHaveLength(5);
    });

    it('answers 409 and inserts nothing when an id exists already or twice in the batch', async () => {
      await batch('jobs', [{ id: 1, job: 'Clerk' }]);
      const stored = await batch('jobs', [
        { id: 2, job: 'New' },
        { id: 1, job: 'Again' },
      ]);
      expect(stored.statusCode).toBe(409);
      expect(stored.json()).toMatchObject({ error: 'DUPLICATE_ID', details: { ids: [1] } });
      const twice = await batch('jobs', [
        { id: 3, job: 'A' },
        { id: 3, job: 'B' },
      ]);
      expect(twice.statusCode).toBe(409);
      expect(await rows('jobs')).toBe(1);
    });

    it('answers 400 for malformed JSON and 415 for another content type', async () => {
      const bad = await t.app.inject({
        method: 'POST',
        url: '/batch/jobs',
        payload: '[{"id":1,',
        headers: { 'content-type': 'application/json' },
      });
      expect(bad.statusCode).toBe(400);
      expect(bad.json().error).toBe('VALIDATION_FAILED');
      const text = await t.app.inject({ method: 'POST', url: '/batch/jobs', payload: '1,a', headers: { 'content-type': 'text/plain' } });
      expect(text.statusCode).toBe(415);
    });

    it('answers 404 for an unknown table', async () => {
      expect((await batch('nope', [{ id: 1 }])).statusCode).toBe(404);
    });
  });
}
