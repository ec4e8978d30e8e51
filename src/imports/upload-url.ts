import { randomUUID } from 'node:crypto';
import type { S3Client } from '@aws-sdk/client-s3';
import { Type, type Static } from 'typebox';
import type { Config } from '../config.js';
import { AppError, isAppError } from '../errors.js';
import type { TableName } from '../tables.js';
import { createS3Client, loadS3Sdk } from './s3-client.js';

/**
 * Direct-to-S3 uploads: the server presigns, the client PUTs the file into IMPORT_BUCKET under
 * IMPORT_PREFIX, then queues it with POST /imports. Files above MULTIPART_FROM_BYTES get a
 * multipart flow (one presigned PUT per part, then POST /imports/upload-url/complete), as AWS
 * advises from ~100 MB; a single PUT is limited to 5 GB.
 */

type UploadConfig = Pick<Config, 'IMPORT_BUCKET' | 'IMPORT_PREFIX' | 'AWS_ENDPOINT_URL_S3'>;

/** How long a presigned URL is valid. */
export const EXPIRES_S = 3600;
export const MULTIPART_FROM_BYTES = 100 * 1024 * 1024;
/** S3's limits: parts of 5 MiB at least (but the last), 10,000 parts at most. */
const MIN_PART_BYTES = 16 * 1024 * 1024;
const MAX_PARTS = 10_000;
const MAX_BYTES = 5 * 1024 ** 4;

export const UploadUrlRequestSchema = Type.Object(
  {
    table: Type.String({ examples: ['hired_employees'] }),
    filename: Type.String({ minLength: 1, maxLength: 200, examples: ['hired_employees.csv'] }),
    size: Type.Optional(
      Type.Integer({ minimum: 1, maximum: MAX_BYTES, description: `Bytes of the file; above ${MULTIPART_FROM_BYTES}: a multipart upload` }),
    ),
  },
  { additionalProperties: false },
);

const PartSchema = Type.Object({ part_number: Type.Integer({ minimum: 1, maximum: MAX_PARTS }), url: Type.String() });

export const UploadUrlSchema = Type.Object({
  method: Type.Literal('PUT'),
  url: Type.Optional(Type.String({ description: 'Single upload: PUT the whole file here, with `headers`' })),
  headers: Type.Record(Type.String(), Type.String()),
  source: Type.String({ description: 'What to POST to /imports once the file is in' }),
  expires_at: Type.String(),
  multipart: Type.Optional(
    Type.Object({
      upload_id: Type.String(),
      part_size: Type.Integer({ description: 'Bytes of every part but the last' }),
      parts: Type.Array(PartSchema, { description: 'PUT each slice of the file to its URL; keep the ETag header of each answer' }),
      complete: Type.String({ description: 'Then POST { source, upload_id, parts: [{ part_number, etag }] } here' }),
    }),
  ),
});

export const CompleteUploadSchema = Type.Object(
  {
    source: Type.String(),
    upload_id: Type.String({ minLength: 1, maxLength: 1024 }),
    parts: Type.Array(
      Type.Object({ part_number: Type.Integer({ minimum: 1, maximum: MAX_PARTS }), etag: Type.String({ minLength: 1, maxLength: 200 }) }),
      { minItems: 1, maxItems: MAX_PARTS },
    ),
  },
  { additionalProperties: false },
);

type UploadUrl = Static<typeof UploadUrlSchema>;

/** A file name as a key segment: its base name, with anything but letters, digits, `._-` replaced. */
const safeName = (filename: string): string => {
  const base = filename.split(/[/\\]/).pop() ?? '';
  const cleaned = base.replace(/[^\w.-]+/g, '_').replace(/^\.+/, '');
  return cleaned === '' ? 'upload.csv' : cleaned.slice(0, 120);
};

function bucketOf(config: UploadConfig): string {
  const bucket = config.IMPORT_BUCKET.trim();
  if (bucket === '') {
    throw new AppError('DIRECT_UPLOAD_UNAVAILABLE', 'This server has no IMPORT_BUCKET: upload the file with POST /upload/{table}');
  }
  return bucket;
}

/**
 * The origins presigned URLs point to, for the dashboard's Content-Security-Policy (connect-src):
 * the S3-compatible endpoint when one is set, else the bucket's virtual-hosted AWS names (the
 * region's when AWS_REGION is known, as on ECS and App Runner). None without IMPORT_BUCKET.
 */
export function uploadOrigins(config: UploadConfig): string[] {
  const bucket = config.IMPORT_BUCKET.trim();
  if (bucket === '') return [];
  const endpoint = config.AWS_ENDPOINT_URL_S3.trim();
  if (endpoint !== '') return [new URL(endpoint).origin];
  const region = process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION;
  return region === undefined
    ? [`https://${bucket}.s3.amazonaws.com`, 'https://*.amazonaws.com']
    : [`https://${bucket}.s3.amazonaws.com`, `https://${bucket}.s3.${region}.amazonaws.com`];
}

/**
 * One presigning client per endpoint, made on first use and kept: a client resolves its
 * credentials once (on ECS, a request to the task's credential endpoint), not once per request.
 */
const presigners = new Map<string, Promise<S3Client>>();
const presigner = (config: UploadConfig): Promise<S3Client> => {
  let client = presigners.get(config.AWS_ENDPOINT_URL_S3);
  if (client === undefined) {
    client = createS3Client(config, { presign: true });
    presigners.set(config.AWS_ENDPOINT_URL_S3, client);
  }
  return client;
};

/** The presigned upload of one file, under `IMPORT_PREFIX/<date>/<random>/<name>` (never another's key). */
export async function presignUpload(
  config: UploadConfig,
  request: { table: TableName; filename: string; size?: number },
): Promise<UploadUrl> {
  const bucket = bucketOf(config);
  const key = `${config.IMPORT_PREFIX}${new Date().toISOString().slice(0, 10)}/${randomUUID()}/${safeName(request.filename)}`;
  const source = `s3://${bucket}/${key}`;
  const expires_at = new Date(Date.now() + EXPIRES_S * 1000).toISOString();
  const { CreateMultipartUploadCommand, PutObjectCommand, UploadPartCommand } = await loadS3Sdk();
  const { getSignedUrl } = await import('@aws-sdk/s3-request-presigner');
  const s3 = await presigner(config);
  // Signing needs credentials: none to be found is the server's setup, a 503 saying so.
  try {
    if (request.size === undefined || request.size < MULTIPART_FROM_BYTES) {
      const url = await getSignedUrl(s3, new PutObjectCommand({ Bucket: bucket, Key: key, ContentType: 'text/csv' }), {
        expiresIn: EXPIRES_S,
      });
      return { method: 'PUT', url, headers: { 'content-type': 'text/csv' }, source, expires_at };
    }
    const partSize = Math.max(MIN_PART_BYTES, Math.ceil(request.size / MAX_PARTS));
    const count = Math.ceil(request.size / partSize);
    const created = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key, ContentType: 'text/csv' }));
    const uploadId = created.UploadId!;
    const parts = await Promise.all(
      Array.from({ length: count }, async (_, i) => ({
        part_number: i + 1,
        url: await getSignedUrl(s3, new UploadPartCommand({ Bucket: bucket, Key: key, UploadId: uploadId, PartNumber: i + 1 }), {
          expiresIn: EXPIRES_S,
        }),
      })),
    );
    return {
      method: 'PUT',
      headers: {},
      source,
      expires_at,
      multipart: { upload_id: uploadId, part_size: partSize, parts, complete: '/imports/upload-url/complete' },
    };
  } catch (error) {
    throw unavailable(error);
  }
}

/** Completes a presigned multipart upload; only of a key this server hands out (IMPORT_BUCKET/IMPORT_PREFIX). */
export async function completeUpload(config: UploadConfig, request: Static<typeof CompleteUploadSchema>): Promise<{ source: string }> {
  const bucket = bucketOf(config);
  const prefix = `s3://${bucket}/${config.IMPORT_PREFIX}`;
  if (!request.source.startsWith(prefix) || request.source.includes('/../')) {
    throw new AppError('SOURCE_INVALID', `Not an upload of this server: the source must start with ${prefix}`);
  }
  const key = request.source.slice(`s3://${bucket}/`.length);
  const parts = [...request.parts].sort((a, b) => a.part_number - b.part_number);
  const { CompleteMultipartUploadCommand } = await loadS3Sdk();
  const s3 = await presigner(config);
  try {
    await s3.send(
      new CompleteMultipartUploadCommand({
        Bucket: bucket,
        Key: key,
        UploadId: request.upload_id,
        MultipartUpload: { Parts: parts.map((p) => ({ PartNumber: p.part_number, ETag: p.etag })) },
      }),
    );
    return { source: request.source };
  } catch (error) {
    const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    // NoSuchUpload (404), InvalidPart or a part too small (400): the request's fault; a 403 is the server's.
    if (status === 400 || status === 404) {
      const name = (error as { name?: string }).name ?? 'Error';
      throw new AppError('BAD_REQUEST', `S3 refused to complete the upload (${status} ${name}): check upload_id and the parts' ETags`);
    }
    throw unavailable(error);
  }
}

const unavailable = (error: unknown): AppError =>
  isAppError(error)
    ? error
    : new AppError(
        'IMPORT_BUCKET_UNAVAILABLE',
        `The import bucket cannot be used: ${error instanceof Error ? error.message : String(error)}`,
      );
