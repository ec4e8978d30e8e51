/**
 * POST /imports/upload-url on a server that cannot sign: no AWS credentials anywhere in the SDK's
 * default chain. A 503 that says why, never a 500 (this file's process has no keys in its
 * environment; the other import tests' processes do).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sqliteBackend } from '../helpers/backends.js';
import { startApp, type TestApp } from '../helpers/app.js';

describe('presigned uploads without credentials', () => {
  let t: TestApp;
  beforeAll(async () => {
    for (const name of ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_PROFILE']) delete process.env[name];
    process.env.AWS_CONFIG_FILE = '/nonexistent/aws-config';
    process.env.AWS_SHARED_CREDENTIALS_FILE = '/nonexistent/aws-credentials';
    process.env.AWS_EC2_METADATA_DISABLED = 'true';
    // A closed port: nothing is reached anyway, signing fails first.
    t = await startApp(sqliteBackend, { IMPORT_BUCKET: 'hr-imports', AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:9' });
  });
  afterAll(() => t.close());

  it.each([
    ['a single PUT', { table: 'jobs', filename: 'jobs.csv' }],
    ['a multipart upload', { table: 'jobs', filename: 'jobs.csv', size: 200 * 1024 * 1024 }],
  ])('%s: 503 IMPORT_BUCKET_UNAVAILABLE naming the credentials', async (_what, payload) => {
    const res = await t.app.inject({ method: 'POST', url: '/imports/upload-url', payload });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toMatchObject({ error: 'IMPORT_BUCKET_UNAVAILABLE' });
    expect(res.json().message).toMatch(/credentials/i);
  });

  it('completing one: the same 503', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/imports/upload-url/complete',
      payload: { source: 's3://hr-imports/imports/2026-12-02/x/jobs.csv', upload_id: 'x', parts: [{ part_number: 1, etag: '"e"' }] },
    });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toMatchObject({ error: 'IMPORT_BUCKET_UNAVAILABLE' });
  });
});
