/**
 * The dashboard's big-file path, in Chromium: with IMPORT_BUCKET set, a file from the threshold on
 * is PUT straight into S3 (s3rver, its CORS rule as Terraform's) with a presigned URL, imported
 * as a job whose events drive the progress bar, and reported like an upload. Without a bucket the
 * same file goes through POST /upload.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sqliteBackend } from '../helpers/backends.js';
import { listen, startApp, type TestApp } from '../helpers/app.js';
import { startS3, type TestS3 } from '../helpers/s3.js';
import { ensureBuilt, launchChromium, poll } from './support.js';

const ROWS = 20_000;
const jobsFile = (): Buffer => {
  let text = '';
  for (let id = 1; id <= ROWS; id++) text += `${id},Job number ${id}\r\n`;
  return Buffer.from(text);
};

describe('dashboard: big files through S3 and an import job', () => {
  let browser: Browser;
  let s3: TestS3;
  let withBucket: TestApp;
  let without: TestApp;
  let page: Page;

  beforeAll(async () => {
    ensureBuilt();
    s3 = await startS3();
    [browser, withBucket, without] = await Promise.all([
      launchChromium(),
      startApp(sqliteBackend, { IMPORT_BUCKET: s3.bucket, AWS_ENDPOINT_URL_S3: s3.endpoint, API_KEY: 'k' }),
      startApp(sqliteBackend),
    ]);
    page = await browser.newPage();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await withBucket?.close();
    await without?.close();
    await s3?.close();
  });

  const load = async (base: string): Promise<string> => {
    // A low threshold (?direct_upload_from) so a small file takes the big-file path.
    await page.goto(`${base}/?direct_upload_from=1000`);
    await page.getByLabel('API key').fill('k');
    await page.locator('#file-input').setInputFiles({ name: 'jobs.csv', mimeType: 'text/csv', buffer: jobsFile() });
    await page.getByRole('button', { name: 'Upload' }).click();
    await poll(() => page.locator('#upload-status').textContent()).toMatch(/Done: 1 file loaded|failed/);
    expect(await page.locator('#upload-results').textContent()).not.toMatch(/fail|refused|could not/i);
    return (await page.locator('#file-list .progress-text').textContent()) ?? '';
  };

  it('with IMPORT_BUCKET: the file lands in the bucket, an import job loads it, the report card shows its counts', async () => {
    const requests: string[] = [];
    page.on('request', (r) => requests.push(`${r.method()} ${new URL(r.url()).pathname}`));
    expect(await load(await listen(withBucket.app))).toBe('100% · loaded');
    expect(requests).toContain('POST /imports/upload-url');
    expect(requests.some((r) => r.startsWith(`PUT /${s3.bucket}/imports/`))).toBe(true);
    expect(requests).toContain('POST /imports');
    expect(requests.some((r) => /^GET \/imports\/[\w-]+\/events$/.test(r))).toBe(true);
    expect(requests.some((r) => r.startsWith('POST /upload/'))).toBe(false);
    const jobs = (await withBucket.app.inject({ url: '/imports', headers: { authorization: 'Bearer k' } })).json();
    expect(jobs.imports[0]).toMatchObject({ status: 'committed', table: 'jobs', inserted: ROWS });
    const rows = (await withBucket.app.inject('/tables')).json().tables.find((t: { name: string }) => t.name === 'jobs').rows;
    expect(rows).toBe(ROWS);
  });

  it('without a bucket: the same file goes through POST /upload', async () => {
    const requests: string[] = [];
    page.removeAllListeners('request');
    page.on('request', (r) => requests.push(`${r.method()} ${new URL(r.url()).pathname}`));
    expect(await load(await listen(without.app))).toBe('100% · loaded');
    expect(requests).toContain('POST /imports/upload-url');
    expect(requests).toContain('POST /upload/jobs');
    expect((await without.app.inject('/tables')).json().tables.find((t: { name: string }) => t.name === 'jobs').rows).toBe(ROWS);
  });
});
