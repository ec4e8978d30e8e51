/**
 * A 1M-row import from S3 (s3rver, the real SDK client) with its progress read from the job's
 * Server-Sent Events: bytes and records only ever grow, and end at the file's size and row count.
 */
import { buffer } from 'node:stream/consumers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sqliteBackend } from '../helpers/backends.js';
import { startApp, type TestApp } from '../helpers/app.js';
import { employeesStream } from '../helpers/generate.js';
import { startS3, type TestS3 } from '../helpers/s3.js';

const ROWS = 1_000_000;

interface Progress {
  status: string;
  bytes_read: number;
  bytes_total: number | null;
  records: number;
  inserted?: number;
}

describe('a 1M-row import from S3', () => {
  let s3: TestS3;
  let t: TestApp;
  let size: number;
  beforeAll(async () => {
    s3 = await startS3();
    const file = await buffer(employeesStream(ROWS));
    size = file.length;
    await s3.put('big/hired_employees.csv', file);
    t = await startApp(sqliteBackend, { AWS_ENDPOINT_URL_S3: s3.endpoint });
    await t.app.ready();
  }, 120_000);
  afterAll(async () => {
    await t.close();
    await s3.close();
  });

  it('commits every row, its progress events growing monotonically to the whole file', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/imports',
      payload: { table: 'hired_employees', source: `s3://${s3.bucket}/big/hired_employees.csv`, batch_size: 10_000 },
    });
    expect(res.statusCode).toBe(202);
    const events = await t.app.inject({ url: `/imports/${res.json().import_id}/events` });
    const states = events.body
      .split('\n\n')
      .filter((block) => block.startsWith('event:'))
      .map((block) => JSON.parse(/\ndata: (.*)/.exec(block)![1]!) as Progress);
    const end = states.at(-1)!;
    expect(end).toMatchObject({ status: 'committed', bytes_read: size, bytes_total: size, records: ROWS, inserted: ROWS });
    // Progress was seen while it ran, not only at the end, and never went back.
    expect(states.filter((s) => s.status === 'running' && s.records > 0 && s.records < ROWS).length).toBeGreaterThan(0);
    for (let i = 1; i < states.length; i++) {
      expect(states[i]!.bytes_read).toBeGreaterThanOrEqual(states[i - 1]!.bytes_read);
      expect(states[i]!.records).toBeGreaterThanOrEqual(states[i - 1]!.records);
    }
    const tables = (await t.app.inject({ url: '/tables' })).json<{ tables: { name: string; rows: number }[] }>();
    expect(tables.tables.find((r) => r.name === 'hired_employees')!.rows).toBe(ROWS);
  }, 180_000);
});
