/**
 * Import sources: `s3://bucket/key` (AWS SDK v3, streamed in ranges, each checked against the
 * object's ETag) and `file:NAME` (a plain file name inside IMPORT_DIR). Used by the import jobs
 * and by the load command; anything else is a 400 SOURCE_INVALID.
 */
import { constants } from 'node:fs';
import { lstat, open, realpath } from 'node:fs/promises';
import { join, sep } from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import type { Config } from '../config.js';
import { AppError } from '../errors.js';
import { createS3Client, loadS3Sdk } from './s3-client.js';

export type ImportSource = { kind: 's3'; bucket: string; key: string } | { kind: 'file'; name: string };

/** The source cannot be read (missing, denied, replaced, not CSV): the job fails with this message. */
export class SourceError extends Error {
  override readonly name = 'SourceError';
}

export interface OpenedSource {
  /** The bytes, streamed; stopping the iteration early closes the file or the S3 response. */
  stream: AsyncIterable<Buffer>;
  /** Size of the file or object when it was opened. */
  bytesTotal: number;
  /** The S3 object's ETag (every range read is checked against it); null for files. */
  etag: string | null;
  /** A line for messages and logs: `s3://b/k (1234 bytes, ETag "…")`. */
  describe: string;
}

export interface OpenOptions {
  /** Reuse a client (the runner keeps one); otherwise one is made from the config. */
  s3?: S3Client;
  /** Aborts the S3 requests in flight (cancel, shutdown). */
  signal?: AbortSignal;
  /** Bytes per ranged GetObject (default RANGE_BYTES); small values are for tests. */
  rangeBytes?: number;
}

/**
 * Each GetObject reads this many bytes, with `If-Match: <ETag of HeadObject>` and its answer's own
 * ETag and Content-Range compared: an object replaced while a long import reads it fails the next
 * range at the latest, even on stores that ignore If-Match, instead of mixing two files.
 */
export const RANGE_BYTES = 16 * 1024 * 1024;

const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
// eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
const CONTROL = /[\u0000-\u001f\u007f]/;

/**
 * Parses an import source. Throws AppError SOURCE_INVALID (400) saying what is wrong: another
 * scheme, a bucket name S3 would refuse, an empty key or a folder, a `file:` name with a path in it,
 * or a `file:` source on a server without IMPORT_DIR. `s3://bucket/prefix/` parses only with
 * `allowPrefix` (the load command reads a folder of three files).
 */
export function parseSource(text: string, config: Pick<Config, 'IMPORT_DIR'>, options: { allowPrefix?: boolean } = {}): ImportSource {
  const invalid = (why: string): AppError => new AppError('SOURCE_INVALID', `Not an import source: ${why}`);
  if (text.startsWith('s3://')) {
    const slash = text.indexOf('/', 5);
    const bucket = slash < 0 ? text.slice(5) : text.slice(5, slash);
    const key = slash < 0 ? '' : text.slice(slash + 1);
    if (!BUCKET.test(bucket)) throw invalid(`"${bucket}" is not an S3 bucket name (3–63 lowercase letters, digits, dots, hyphens)`);
    if (key === '') throw invalid('the S3 source names no object: use s3://bucket/key');
    if (key.endsWith('/') && options.allowPrefix !== true) throw invalid(`"${key}" is a folder, not an object`);
    if (Buffer.byteLength(key) > 1024 || CONTROL.test(key))
      throw invalid('the S3 key is longer than 1024 bytes or holds control characters');
    return { kind: 's3', bucket, key };
  }
  if (text.startsWith('file:')) {
    const name = text.slice(5);
    if (config.IMPORT_DIR.trim() === '') throw invalid('file: sources need IMPORT_DIR set on the server');
    if (name === '' || name === '.' || name === '..' || name.includes('/') || name.includes('\\') || CONTROL.test(name)) {
      throw invalid(`"${name}" is not a plain file name: file: takes a name inside the import folder, without a path`);
    }
    return { kind: 'file', name };
  }
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(text)?.[1];
  throw invalid(
    scheme === undefined
      ? `"${text.slice(0, 100)}" has no scheme: use s3://bucket/key or file:NAME`
      : `the scheme "${scheme}:" is not supported: use s3://bucket/key or file:NAME`,
  );
}

/** The canonical text of a parsed source (what jobs store and show). */
export const formatSource = (source: ImportSource): string =>
  source.kind === 's3' ? `s3://${source.bucket}/${source.key}` : `file:${source.name}`;

/**
 * Opens a source for reading: checks it exists and may be read (a SourceError with a clear
 * message otherwise: no such bucket, key or file, access denied, a symlink out of the import
 * folder, binary content), and returns its bytes as a stream with its size. A string is parsed
 * first (SOURCE_INVALID when it is not a source).
 */
export async function openSource(
  config: Pick<Config, 'IMPORT_DIR' | 'AWS_ENDPOINT_URL_S3'>,
  source: ImportSource | string,
  options: OpenOptions = {},
): Promise<OpenedSource> {
  const parsed = typeof source === 'string' ? parseSource(source, config) : source;
  const opened =
    parsed.kind === 'file'
      ? await openFile(config.IMPORT_DIR, parsed.name)
      : await openS3(options.s3 ?? (await createS3Client(config)), parsed.bucket, parsed.key, options);
  return { ...opened, stream: refuseBinary(opened.stream, opened.describe) };
}

async function openFile(dir: string, name: string): Promise<OpenedSource> {
  const label = `file:${name}`;
  let root: string;
  try {
    root = await realpath(dir);
  } catch {
    throw new SourceError(`${label}: the import folder (IMPORT_DIR) does not exist on the server`);
  }
  const path = join(root, name);
  let target = path;
  try {
    if ((await lstat(path)).isSymbolicLink()) {
      target = await realpath(path);
      if (!target.startsWith(root + sep)) throw new SourceError(`${label} is a symbolic link out of the import folder`);
    }
  } catch (error) {
    if (error instanceof SourceError) throw error;
    throw new SourceError(`${label}: no such file in the import folder`);
  }
  // O_NOFOLLOW: a file swapped for a symlink after the checks above is refused, not followed.
  const handle = await open(target, constants.O_RDONLY | constants.O_NOFOLLOW).catch((error: NodeJS.ErrnoException) => {
    throw new SourceError(`${label} cannot be opened (${error.code ?? error.message})`);
  });
  const info = await handle.stat();
  if (!info.isFile()) {
    await handle.close();
    throw new SourceError(`${label} is not a regular file`);
  }
  return {
    stream: handle.createReadStream({ highWaterMark: 256 * 1024 }),
    bytesTotal: info.size,
    etag: null,
    describe: `${label} (${info.size} bytes)`,
  };
}

async function openS3(client: S3Client, bucket: string, key: string, options: OpenOptions): Promise<OpenedSource> {
  const { HeadObjectCommand } = await loadS3Sdk();
  const label = `s3://${bucket}/${key}`;
  const head = await client
    .send(new HeadObjectCommand({ Bucket: bucket, Key: key }), { abortSignal: options.signal })
    .catch(async (error: unknown) => {
      throw await explainS3Error(client, error, bucket, key, options.signal);
    });
  const etag = head.ETag ?? null;
  const size = head.ContentLength ?? 0;
  return {
    stream: readRanges(client, { bucket, key, label, etag, size }, options.rangeBytes ?? RANGE_BYTES, options.signal),
    bytesTotal: size,
    etag,
    describe: `${label} (${size} bytes${etag === null ? '' : `, ETag ${etag}`})`,
  };
}

interface ObjectRef {
  bucket: string;
  key: string;
  label: string;
  etag: string | null;
  size: number;
}

/** Times a range whose body broke off (a reset connection) is asked for again from where it stopped. */
const RANGE_RETRIES = 3;

async function* readRanges(
  client: S3Client,
  object: ObjectRef,
  rangeBytes: number,
  signal: AbortSignal | undefined,
): AsyncIterable<Buffer> {
  const { GetObjectCommand } = await loadS3Sdk();
  const changed = (why: string): SourceError =>
    new SourceError(`${object.label} was replaced while it was being imported (${why}); nothing was written`);
  for (let start = 0; start < object.size; start += rangeBytes) {
    const end = Math.min(object.size, start + rangeBytes) - 1;
    // The SDK retries a request that fails before its body; a body that breaks off is resumed
    // here, its rest asked for with the same If-Match, so a replaced object still fails as such.
    let from = start;
    for (let attempt = 0; from <= end; attempt++) {
      const response = await client
        .send(
          new GetObjectCommand({
            Bucket: object.bucket,
            Key: object.key,
            Range: `bytes=${from}-${end}`,
            ...(object.etag === null ? {} : { IfMatch: object.etag }),
          }),
          { abortSignal: signal },
        )
        .catch((error: unknown) => {
          const status = httpStatus(error);
          if (status === 412) throw changed('its ETag no longer matches');
          if (status === 416) throw changed('it is shorter than when the import started');
          if (status === 404) throw changed('it was deleted');
          throw toSourceError(error, object.label, signal);
        });
      const body = response.Body as AsyncIterable<Uint8Array> | undefined;
      const total = /\/(\d+)$/.exec(response.ContentRange ?? '')?.[1];
      if ((object.etag !== null && response.ETag !== object.etag) || (total !== undefined && Number(total) !== object.size)) {
        (body as { destroy?: () => void } | undefined)?.destroy?.();
        throw changed(`ETag ${response.ETag ?? 'none'}, was ${object.etag ?? 'none'}`);
      }
      if (body === undefined) throw changed('no body');
      let broken: unknown;
      try {
        for await (const piece of body) {
          const room = end - from + 1;
          if (piece.byteLength > room) throw changed(`a range of ${end - start + 1} bytes gave more`);
          from += piece.byteLength;
          yield Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength);
        }
      } catch (error) {
        if (error instanceof SourceError || signal?.aborted === true) throw toSourceError(error, object.label, signal);
        broken = error;
      }
      if (from > end) break;
      if (attempt >= RANGE_RETRIES) {
        throw broken === undefined
          ? changed(`a range of ${end - start + 1} bytes gave ${from - start}`)
          : toSourceError(broken, object.label, signal);
      }
    }
  }
}

/** Refuses content that is not text before a single row is parsed: NUL bytes, gzip. */
async function* refuseBinary(stream: AsyncIterable<Buffer>, label: string): AsyncIterable<Buffer> {
  let first = true;
  for await (const piece of stream) {
    if (first) {
      first = false;
      if (piece[0] === 0x1f && piece[1] === 0x8b) throw new SourceError(`${label} is gzip-compressed, not CSV: import it uncompressed`);
      const nul = piece.subarray(0, 64 * 1024).indexOf(0);
      if (nul >= 0) throw new SourceError(`${label} is not CSV text: binary content (a NUL byte at offset ${nul})`);
    }
    yield piece;
  }
}

const httpStatus = (error: unknown): number | undefined =>
  (error as { $metadata?: { httpStatusCode?: number } } | null)?.$metadata?.httpStatusCode;

/** HeadObject's 404 says neither whether the bucket or the key is missing: HeadBucket tells. */
async function explainS3Error(client: S3Client, error: unknown, bucket: string, key: string, signal?: AbortSignal): Promise<Error> {
  const label = `s3://${bucket}/${key}`;
  if (httpStatus(error) === 404) {
    const { HeadBucketCommand } = await loadS3Sdk();
    const bucketStatus = await client.send(new HeadBucketCommand({ Bucket: bucket }), { abortSignal: signal }).then(
      () => 200,
      (e: unknown) => httpStatus(e),
    );
    if (bucketStatus === 404) return new SourceError(`${label}: the bucket "${bucket}" does not exist`);
    return new SourceError(`${label}: no object "${key}" in the bucket "${bucket}"`);
  }
  return toSourceError(error, label, signal);
}

function toSourceError(error: unknown, label: string, signal: AbortSignal | undefined): Error {
  if (signal?.aborted === true) return signal.reason instanceof Error ? signal.reason : new Error('aborted');
  if (error instanceof SourceError) return error;
  const status = httpStatus(error);
  const name = (error as { name?: string } | null)?.name ?? 'Error';
  const message = error instanceof Error ? error.message : String(error);
  if (status === 403)
    return new SourceError(`${label}: access denied (check the credentials or the role's permissions on this bucket and key)`);
  if (status === 301 || name === 'PermanentRedirect') return new SourceError(`${label}: the bucket is in another region than the client's`);
  if (status === undefined) return new SourceError(`${label}: S3 could not be reached (${name}: ${message})`);
  return new SourceError(`${label}: S3 answered ${status} ${name}${message && message !== name ? ` (${message})` : ''}`);
}
