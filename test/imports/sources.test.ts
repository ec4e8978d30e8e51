import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { isAppError } from '../../src/errors.js';
import { openSource, parseSource, SourceError } from '../../src/imports/sources.js';
import { startS3, type TestS3 } from '../helpers/s3.js';
import { startSlowProxy } from '../helpers/slow-proxy.js';

const read = async (stream: AsyncIterable<Buffer>): Promise<string> => {
  const parts: Buffer[] = [];
  for await (const piece of stream) parts.push(piece);
  return Buffer.concat(parts).toString();
};

const rejection = async (promise: Promise<unknown>): Promise<Error> => {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a rejection');
};

describe('import sources', () => {
  let s3: TestS3;
  let dir: string;
  let outside: string;
  let config: ReturnType<typeof loadConfig>;

  beforeAll(async () => {
    s3 = await startS3();
    dir = mkdtempSync(join(tmpdir(), 'import-dir-'));
    outside = mkdtempSync(join(tmpdir(), 'outside-'));
    writeFileSync(join(dir, 'jobs.csv'), '1,Engineer\n2,Analyst\n');
    writeFileSync(join(outside, 'secret.csv'), '1,secret\n');
    symlinkSync(join(outside, 'secret.csv'), join(dir, 'escape.csv'));
    symlinkSync(join(dir, 'jobs.csv'), join(dir, 'alias.csv'));
    mkdirSync(join(dir, 'sub'));
    config = loadConfig({}, { IMPORT_DIR: dir, AWS_ENDPOINT_URL_S3: s3.endpoint });
  });
  afterAll(async () => {
    await s3.close();
    rmSync(dir, { recursive: true, force: true });
    rmSync(outside, { recursive: true, force: true });
  });

  it.each([
    ['http://example.com/x.csv', 'scheme "http:"'],
    ['/etc/passwd', 'no scheme'],
    ['s3://Bad_Bucket/x.csv', 'bucket name'],
    ['s3://bucket', 'names no object'],
    ['s3://bucket/folder/', 'folder'],
    ['file:../secret.csv', 'plain file name'],
    ['file:sub/x.csv', 'plain file name'],
    ['file:..', 'plain file name'],
    ['file:', 'plain file name'],
  ])('refuses %s as SOURCE_INVALID naming what is wrong', (text, why) => {
    let error: unknown;
    try {
      parseSource(text, config);
    } catch (e) {
      error = e;
    }
    expect(isAppError(error) && error.code === 'SOURCE_INVALID' && error.statusCode === 400).toBe(true);
    expect((error as Error).message).toContain(why);
  });

  it('refuses file: sources when IMPORT_DIR is not set', () => {
    expect(() => parseSource('file:jobs.csv', { IMPORT_DIR: '' })).toThrow(/IMPORT_DIR/);
  });

  it('reads a file of the import folder, and a symlink that stays inside it', async () => {
    const opened = await openSource(config, 'file:jobs.csv');
    expect(opened.bytesTotal).toBe(21);
    expect(await read(opened.stream)).toBe('1,Engineer\n2,Analyst\n');
    expect(await read((await openSource(config, 'file:alias.csv')).stream)).toBe('1,Engineer\n2,Analyst\n');
  });

  it('refuses a symlink out of the folder, a missing file and a folder', async () => {
    expect((await rejection(openSource(config, 'file:escape.csv'))).message).toMatch(/symbolic link out of the import folder/);
    expect((await rejection(openSource(config, 'file:nope.csv'))).message).toMatch(/no such file/);
    expect((await rejection(openSource(config, 'file:sub'))).message).toMatch(/not a regular file/);
  });

  it('streams an S3 object in ranges, with its size and ETag', async () => {
    const body = Array.from({ length: 500 }, (_, i) => `${i + 1},Job ${i + 1}`).join('\n');
    const etag = await s3.put('ranges.csv', body);
    const opened = await openSource(config, `s3://${s3.bucket}/ranges.csv`, { rangeBytes: 1000 });
    expect(opened.etag).toBe(etag);
    expect(opened.bytesTotal).toBe(Buffer.byteLength(body));
    expect(await read(opened.stream)).toBe(body);
  });

  it('names a missing key, a missing bucket and binary content', async () => {
    const missingKey = await rejection(openSource(config, `s3://${s3.bucket}/absent.csv`));
    expect(missingKey).toBeInstanceOf(SourceError);
    expect(missingKey.message).toMatch(/no object "absent.csv"/);
    expect((await rejection(openSource(config, 's3://no-such-bucket/a.csv'))).message).toMatch(/bucket "no-such-bucket" does not exist/);
    await s3.put('binary.csv', Buffer.from([0x31, 0x2c, 0x00, 0xff, 0x10]));
    const binary = await openSource(config, `s3://${s3.bucket}/binary.csv`);
    expect((await rejection(read(binary.stream))).message).toMatch(/not CSV text: binary content/);
  });

  it('resumes a range whose body breaks off (a reset connection) from where it stopped', async () => {
    const body = Array.from({ length: 20_000 }, (_, i) => `${i + 1},Job ${i + 1}`).join('\n');
    await s3.put('resumed.csv', body);
    // The first answer carrying the body is cut 100 kB in (HeadObject's answer has none).
    const proxy = await startSlowProxy(s3.endpoint, 64 * 1024, 1, 100_000);
    try {
      const opened = await openSource({ ...config, AWS_ENDPOINT_URL_S3: proxy.url }, `s3://${s3.bucket}/resumed.csv`);
      expect(await read(opened.stream)).toBe(body);
    } finally {
      await proxy.close();
    }
  });

  it('fails the read when the object is replaced between two ranges', async () => {
    await s3.put('swap.csv', 'a'.repeat(5000));
    const opened = await openSource(config, `s3://${s3.bucket}/swap.csv`, { rangeBytes: 1000 });
    const reading = (async () => {
      let n = 0;
      for await (const piece of opened.stream) {
        n += piece.length;
        if (n === 1000) await s3.put('swap.csv', 'b'.repeat(5000));
      }
    })();
    expect((await rejection(reading)).message).toMatch(/was replaced while it was being imported/);
  });
});
