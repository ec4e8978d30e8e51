/**
 * Import jobs through the HTTP API, on both backends, against a real S3-protocol server (s3rver)
 * and a real import folder: queue, progress, the upload they end as, failures with a message,
 * cancel, paging, events, presigned uploads.
 */
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS } from '../helpers/backends.js';
import { startApp, type TestApp } from '../helpers/app.js';
import { historical } from '../helpers/http.js';
import { waitForEnd, type ImportJobView } from '../helpers/imports.js';
import { startS3, type TestS3 } from '../helpers/s3.js';
import { startSlowProxy } from '../helpers/slow-proxy.js';

type JobView = ImportJobView;

/** The historical file's counts, from the file itself: every line a record, every 5-field line with an empty field incomplete. */
const employeesLines = historical('hired_employees')
  .toString()
  .split(/\r?\n/)
  .filter((l) => l !== '');

for (const backend of BACKENDS) {
  describe.skipIf(!backend.available)(`import jobs (${backend.name})`, () => {
    let s3: TestS3;
    let dir: string;
    let t: TestApp;

    const post = (body: unknown) => t.app.inject({ method: 'POST', url: '/imports', payload: body as object });
    const job = async (id: string): Promise<JobView> => (await t.app.inject({ url: `/imports/${id}` })).json();
    const run = async (body: Record<string, unknown>): Promise<JobView> => {
      const res = await post(body);
      expect(res.statusCode, res.body).toBe(202);
      const queued = res.json<JobView>();
      expect(res.headers.location).toBe(`/imports/${queued.import_id}`);
      return waitForEnd(() => job(queued.import_id));
    };
    const count = async (table: string): Promise<number> =>
      (await t.app.inject({ url: '/tables' })).json<{ tables: { name: string; rows: number }[] }>().tables.find((r) => r.name === table)!
        .rows;

    beforeAll(async () => {
      s3 = await startS3();
      dir = mkdtempSync(join(tmpdir(), 'imports-'));
      writeFileSync(join(dir, 'jobs.csv'), historical('jobs'));
      writeFileSync(join(dir, 'hired_employees.csv'), historical('hired_employees'));
      writeFileSync(join(dir, 'bad.csv'), '1,Engineer\n"unclosed,quote\n');
      const outside = mkdtempSync(join(tmpdir(), 'outside-'));
      writeFileSync(join(outside, 'secret.csv'), '1,secret\n');
      symlinkSync(join(outside, 'secret.csv'), join(dir, 'escape.csv'));
      t = await startApp(backend, { IMPORT_DIR: dir, AWS_ENDPOINT_URL_S3: s3.endpoint, IMPORT_BUCKET: s3.bucket });
      await t.app.ready();
    });
    afterAll(async () => {
      await t.close();
      await s3.close();
      rmSync(dir, { recursive: true, force: true });
    });

    it('imports a file of the import folder in the background, as the same upload /upload makes', async () => {
      const done = await run({ table: 'jobs', source: 'file:jobs.csv' });
      const lines = historical('jobs')
        .toString()
        .split(/\r?\n/)
        .filter((l) => l !== '');
      expect(done).toMatchObject({ status: 'committed', table: 'jobs', received: lines.length, inserted: lines.length, rejected: 0 });
      expect(done.bytes_read).toBe(historical('jobs').length);
      // The last record (no line break after it) counts in the progress too.
      expect(done.records).toBe(lines.length);
      expect(done.bytes_total).toBe(historical('jobs').length);
      expect(await count('jobs')).toBe(lines.length);
      const upload = await t.app.inject({ url: `/uploads/${done.upload_id}` });
      expect(upload.json()).toMatchObject({ status: 'committed', table: 'jobs', inserted: lines.length });
    });

    it('imports from S3, with the options of /upload (alias, batch size), and its rejects resolve', async () => {
      const body = Buffer.concat([historical('hired_employees'), Buffer.from('9999999,Someone,not a date,1,1\r\n')]);
      await s3.put('exports/hired.csv', body);
      const done = await run({ table: 'employees', source: `s3://${s3.bucket}/exports/hired.csv`, batch_size: 500 });
      const incomplete = employeesLines.filter((l) => l.split(',').some((f) => f === '')).length;
      expect(done).toMatchObject({
        status: 'committed',
        table: 'hired_employees',
        received: employeesLines.length + 1,
        inserted: employeesLines.length,
        incomplete,
        rejected: 1,
      });
      const rejects = await t.app.inject({ url: `/uploads/${done.upload_id}/rejects.csv` });
      expect(rejects.statusCode).toBe(200);
      expect(rejects.body).toContain('9999999,Someone,not a date,1,1');
      const report = (await t.app.inject({ url: `/uploads/${done.upload_id}` })).json<{ errors: { line: number }[] }>();
      expect(report.errors.map((e) => e.line)).toEqual([employeesLines.length + 1]);
    });

    it('a dry run validates and writes nothing', async () => {
      await s3.put('dry.csv', '500,Dry Job\n501,Other\n');
      const before = await count('jobs');
      const done = await run({ table: 'jobs', source: `s3://${s3.bucket}/dry.csv`, dry_run: true });
      expect(done).toMatchObject({ status: 'dry_run', received: 2 });
      expect(await count('jobs')).toBe(before);
    });

    it.each([
      ['s3://hr-imports/no/such.csv', /no object "no\/such.csv"/],
      ['s3://no-such-bucket-here/x.csv', /bucket "no-such-bucket-here" does not exist/],
      ['file:missing.csv', /no such file/],
      ['file:escape.csv', /symbolic link out of the import folder/],
    ])('a source that cannot be read (%s) ends the job failed, with why', async (source, why) => {
      const done = await run({ table: 'jobs', source });
      expect(done.status).toBe('failed');
      expect(done.message).toMatch(why);
    });

    it('credentials S3 refuses end the job failed with "access denied", never a 5xx', async () => {
      // The SDK reads the keys from the environment (its default chain) when the runner makes its
      // client; s3rver refuses a key it does not know (403 InvalidAccessKeyId).
      const saved = process.env.AWS_ACCESS_KEY_ID;
      process.env.AWS_ACCESS_KEY_ID = 'UNKNOWNKEY';
      const denied = await startApp(backend, { AWS_ENDPOINT_URL_S3: s3.endpoint });
      try {
        await denied.app.ready();
        await s3.put('private.csv', '1,Engineer\n');
        const res = await denied.app.inject({
          method: 'POST',
          url: '/imports',
          payload: { table: 'jobs', source: `s3://${s3.bucket}/private.csv` },
        });
        expect(res.statusCode).toBe(202);
        const done = await waitForEnd(async () => (await denied.app.inject({ url: `/imports/${res.json<JobView>().import_id}` })).json());
        expect(done.status).toBe('failed');
        expect(done.message).toMatch(/access denied/);
      } finally {
        process.env.AWS_ACCESS_KEY_ID = saved;
        await denied.close();
      }
    });

    it('a binary object and a malformed CSV end failed with a message; nothing is written', async () => {
      await s3.put('archive.csv.gz', Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0]));
      const gz = await run({ table: 'jobs', source: `s3://${s3.bucket}/archive.csv.gz` });
      expect(gz).toMatchObject({ status: 'failed' });
      expect(gz.message).toMatch(/gzip/);
      const before = await count('jobs');
      const bad = await run({ table: 'jobs', source: 'file:bad.csv' });
      expect(bad.status).toBe('failed');
      expect(bad.message).toMatch(/Malformed CSV at line 2/);
      expect(bad.upload_id).not.toBeNull();
      expect((await t.app.inject({ url: `/uploads/${bad.upload_id}` })).json().status).toBe('failed');
      expect(await count('jobs')).toBe(before);
    });

    it.each([
      [{ table: 'jobs', source: 'http://example.com/jobs.csv' }, 400, 'SOURCE_INVALID', /scheme "http:"/],
      [{ table: 'jobs', source: 'file:../etc/passwd' }, 400, 'SOURCE_INVALID', /plain file name/],
      [{ table: 'jobs', source: 's3://hr-imports/folder/' }, 400, 'SOURCE_INVALID', /folder/],
      [{ table: 'salaries', source: 'file:jobs.csv' }, 404, 'TABLE_NOT_FOUND', /salaries/],
      [{ table: 'jobs' }, 400, 'VALIDATION_FAILED', /source/],
      [{ table: 'jobs', source: 'file:jobs.csv', batch_size: 0 }, 400, 'VALIDATION_FAILED', /batch_size/],
    ])('POST %j answers %i %s', async (body, status, code, why) => {
      const res = await post(body);
      expect(res.statusCode).toBe(status);
      expect(res.json()).toMatchObject({ error: code });
      expect(res.json().message).toMatch(why);
    });

    it.each([
      ['/imports/a%00b', 404, 'IMPORT_NOT_FOUND'],
      ['/imports/a%00b/events', 404, 'IMPORT_NOT_FOUND'],
      ['/uploads/a%00b', 404, 'UPLOAD_NOT_FOUND'],
      ['/uploads/a%00b/rejects.csv', 404, 'UPLOAD_NOT_FOUND'],
    ])('an id that is not one of ours (%s, a NUL in it) names nothing: %i %s, not a database error', async (url, status, code) => {
      const res = await t.app.inject({ url });
      expect(res.statusCode).toBe(status);
      expect(res.json()).toMatchObject({ error: code });
    });

    it('a NUL in the id is no job either when cancelling or paging', async () => {
      expect((await t.app.inject({ method: 'DELETE', url: '/imports/a%00b' })).json()).toMatchObject({ error: 'IMPORT_NOT_FOUND' });
      expect((await t.app.inject({ url: '/imports?before=a%00b' })).json()).toEqual({ imports: [], next: null });
    });

    it('unknown ids are 404 IMPORT_NOT_FOUND; a finished job cannot be cancelled (409)', async () => {
      expect((await t.app.inject({ url: '/imports/nope' })).json()).toMatchObject({ error: 'IMPORT_NOT_FOUND' });
      expect((await t.app.inject({ method: 'DELETE', url: '/imports/nope' })).statusCode).toBe(404);
      const done = await run({ table: 'jobs', source: 'file:jobs.csv', on_conflict: 'update' });
      const res = await t.app.inject({ method: 'DELETE', url: `/imports/${done.import_id}` });
      expect(res.statusCode).toBe(409);
      expect(res.json()).toMatchObject({ error: 'IMPORT_FINISHED' });
    });

    it('cancels a running import: rolled back, nothing written, status cancelled', async () => {
      // Through a slow link to S3, so the import is caught while it runs.
      const proxy = await startSlowProxy(s3.endpoint);
      const slow = await startApp(backend, { AWS_ENDPOINT_URL_S3: proxy.url });
      try {
        await slow.app.ready();
        let text = '';
        for (let id = 1; id <= 100_000; id++) text += `${id},Job ${id}\n`;
        await s3.put('many-jobs.csv', text);
        const res = await slow.app.inject({
          method: 'POST',
          url: '/imports',
          payload: { table: 'jobs', source: `s3://${s3.bucket}/many-jobs.csv` },
        });
        const id = res.json<JobView>().import_id;
        const get = async (): Promise<JobView> => (await slow.app.inject({ url: `/imports/${id}` })).json();
        const deadline = Date.now() + 30_000;
        while ((await get()).records === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
        const running = await get();
        expect(running.status).toBe('running');
        expect(running.records).toBeLessThan(100_000);
        const cancel = await slow.app.inject({ method: 'DELETE', url: `/imports/${id}` });
        expect(cancel.statusCode).toBe(202);
        const done = await waitForEnd(get);
        expect(done.status).toBe('cancelled');
        expect(done.message).toMatch(/rolled back/);
        const tables = (await slow.app.inject({ url: '/tables' })).json<{ tables: { name: string; rows: number }[] }>().tables;
        expect(tables.find((r) => r.name === 'jobs')!.rows).toBe(0);
        expect((await slow.app.inject({ url: `/uploads/${done.upload_id}` })).json().status).toBe('aborted');
      } finally {
        await slow.close();
        await proxy.close();
      }
    });

    it('an object replaced while it is imported fails the job instead of mixing two files', async () => {
      const proxy = await startSlowProxy(s3.endpoint, 8 * 1024);
      const slow = await startApp(backend, { AWS_ENDPOINT_URL_S3: proxy.url, IMPORT_RANGE_BYTES: 65_536 });
      try {
        await slow.app.ready();
        const file = (from: number): string => {
          let text = '';
          for (let id = from; id < from + 150_000; id++) text += `${id},Job ${id}\n`;
          return text;
        };
        await s3.put('moving.csv', file(1));
        const res = await slow.app.inject({
          method: 'POST',
          url: '/imports',
          payload: { table: 'jobs', source: `s3://${s3.bucket}/moving.csv` },
        });
        const id = res.json<JobView>().import_id;
        const get = async (): Promise<JobView> => (await slow.app.inject({ url: `/imports/${id}` })).json();
        const deadline = Date.now() + 30_000;
        while ((await get()).records === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
        await s3.put('moving.csv', file(1_000_000));
        const done = await waitForEnd(get);
        expect(done.status).toBe('failed');
        expect(done.message).toMatch(/was replaced while it was being imported/);
        const tables = (await slow.app.inject({ url: '/tables' })).json<{ tables: { name: string; rows: number }[] }>().tables;
        expect(tables.find((r) => r.name === 'jobs')!.rows).toBe(0);
      } finally {
        await slow.close();
        await proxy.close();
      }
    });

    it('a queued job cancelled before it starts never runs', async () => {
      const idle = await startApp(backend, { IMPORT_DIR: dir, IMPORT_CONCURRENCY: 0 });
      try {
        await idle.app.ready();
        const res = await idle.app.inject({ method: 'POST', url: '/imports', payload: { table: 'jobs', source: 'file:jobs.csv' } });
        const id = res.json<JobView>().import_id;
        expect(res.json<JobView>().status).toBe('queued');
        const cancel = await idle.app.inject({ method: 'DELETE', url: `/imports/${id}` });
        expect(cancel.statusCode).toBe(202);
        expect(cancel.json()).toMatchObject({ status: 'cancelled', upload_id: null });
        expect((await idle.app.inject({ method: 'DELETE', url: `/imports/${id}` })).statusCode).toBe(202);
      } finally {
        await idle.close();
      }
    });

    it('lists jobs newest first, paged with before', async () => {
      const first = await t.app.inject({ url: '/imports?limit=2' });
      const page = first.json<{ imports: JobView[]; next: string | null }>();
      expect(page.imports).toHaveLength(2);
      expect(page.next).toBe(page.imports[1]!.import_id);
      const second = (await t.app.inject({ url: `/imports?limit=100&before=${page.next}` })).json<{ imports: JobView[]; next: null }>();
      const ids = [...page.imports, ...second.imports].map((j) => j.import_id);
      expect(new Set(ids).size).toBe(ids.length);
      expect(second.next).toBeNull();
      // The first job made in this file is the last of the list.
      expect(second.imports.at(-1)!.source).toBe('file:jobs.csv');
    });

    it('streams Server-Sent Events of progress, ending with the final state', async () => {
      const res = await post({ table: 'jobs', source: 'file:jobs.csv', on_conflict: 'update' });
      const id = res.json<JobView>().import_id;
      const events = await t.app.inject({ url: `/imports/${id}/events` });
      expect(events.headers['content-type']).toMatch(/^text\/event-stream/);
      const parsed = events.body
        .split('\n\n')
        .filter((block) => block.startsWith('event:'))
        .map((block) => ({ event: /^event: (\w+)/.exec(block)![1], data: JSON.parse(/\ndata: (.*)/.exec(block)![1]!) as JobView }));
      expect(parsed.at(-1)!.event).toBe('end');
      expect(parsed.at(-1)!.data.status).toBe('committed');
      expect(parsed.slice(0, -1).every((e) => e.event === 'progress')).toBe(true);
      const records = parsed.map((e) => e.data.records);
      expect(records).toEqual([...records].sort((a, b) => a - b));
    });

    it('presigns a PUT into the import bucket; the file PUT there imports', async () => {
      const res = await t.app.inject({
        method: 'POST',
        url: '/imports/upload-url',
        payload: { table: 'jobs', filename: '../my jobs.csv' },
      });
      expect(res.statusCode, res.body).toBe(200);
      const presigned = res.json<{ url: string; method: string; headers: Record<string, string>; source: string }>();
      expect(presigned.source).toMatch(new RegExp(`^s3://${s3.bucket}/imports/\\d{4}-\\d\\d-\\d\\d/[0-9a-f-]{36}/my_jobs\\.csv$`));
      const put = await fetch(presigned.url, { method: 'PUT', headers: presigned.headers, body: '700,Presigned Job\n701,Another\n' });
      expect(put.status).toBe(200);
      const done = await run({ table: 'jobs', source: presigned.source });
      expect(done).toMatchObject({ status: 'committed', inserted: 2 });
    });

    it('presigns a multipart upload for a big file; parts PUT, completed, imported', async () => {
      const size = 101 * 1024 * 1024;
      const res = await t.app.inject({ method: 'POST', url: '/imports/upload-url', payload: { table: 'jobs', filename: 'big.csv', size } });
      expect(res.statusCode, res.body).toBe(200);
      const presigned = res.json<{
        source: string;
        multipart: { upload_id: string; part_size: number; parts: { part_number: number; url: string }[]; complete: string };
      }>();
      const { part_size: partSize, parts } = presigned.multipart;
      expect(parts).toHaveLength(Math.ceil(size / partSize));
      // A file of that many bytes: job lines, padded with blank lines (not records) to the size.
      const content = Buffer.alloc(size, '\n');
      Buffer.from('800,Multipart Job\n801,Second\n').copy(content);
      const etags: { part_number: number; etag: string }[] = [];
      for (const part of parts) {
        const slice = content.subarray((part.part_number - 1) * partSize, part.part_number * partSize);
        const put = await fetch(part.url, { method: 'PUT', body: slice });
        expect(put.status).toBe(200);
        etags.push({ part_number: part.part_number, etag: put.headers.get('etag')! });
      }
      const complete = await t.app.inject({
        method: 'POST',
        url: presigned.multipart.complete,
        payload: { source: presigned.source, upload_id: presigned.multipart.upload_id, parts: etags },
      });
      expect(complete.statusCode, complete.body).toBe(200);
      const done = await run({ table: 'jobs', source: presigned.source });
      expect(done).toMatchObject({ status: 'committed', inserted: 2, bytes_total: size });
      const foreign = await t.app.inject({
        method: 'POST',
        url: '/imports/upload-url/complete',
        payload: { source: `s3://${s3.bucket}/elsewhere/x.csv`, upload_id: 'x', parts: [{ part_number: 1, etag: '"x"' }] },
      });
      expect(foreign.statusCode).toBe(400);
      expect(foreign.json()).toMatchObject({ error: 'SOURCE_INVALID' });
    });
  });
}
