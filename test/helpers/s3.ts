/**
 * A real S3-protocol server for the tests: s3rver on a random loopback port, its data in a temp
 * folder, one bucket made; the real AWS SDK client talks to it (path-style, s3rver's own keys).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import S3rver from 's3rver';

export interface TestS3 {
  /** `http://127.0.0.1:PORT`: AWS_ENDPOINT_URL_S3 for the app under test. */
  endpoint: string;
  client: S3Client;
  bucket: string;
  /** The environment a server process needs to reach it (endpoint, keys, region). */
  env: Record<string, string>;
  /** Stores an object; resolves with its ETag. */
  put(key: string, body: string | Buffer): Promise<string>;
  close(): Promise<void>;
}

/** s3rver accepts requests signed with this key pair. */
const CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

/** What the Terraform bucket's CORS rule allows (terraform/s3.tf): browsers PUT and read ETag. */
const CORS = `<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>PUT</AllowedMethod><AllowedHeader>*</AllowedHeader><ExposeHeader>ETag</ExposeHeader><MaxAgeSeconds>3600</MaxAgeSeconds></CORSRule></CORSConfiguration>`;

export async function startS3(bucket = 'hr-imports'): Promise<TestS3> {
  const directory = mkdtempSync(join(tmpdir(), 's3rver-'));
  const server = new S3rver({
    address: '127.0.0.1',
    port: 0,
    silent: true,
    directory,
    vhostBuckets: false,
    configureBuckets: [{ name: bucket, configs: [CORS] }],
  });
  const { port } = await server.run();
  const endpoint = `http://127.0.0.1:${port}`;
  const env = {
    AWS_ENDPOINT_URL_S3: endpoint,
    AWS_ACCESS_KEY_ID: CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey,
    AWS_REGION: 'us-east-1',
  };
  // Apps built in this test process find the keys through the SDK's default chain, as in production.
  for (const [name, value] of Object.entries(env)) if (name !== 'AWS_ENDPOINT_URL_S3') process.env[name] = value;
  const client = new S3Client({ endpoint, forcePathStyle: true, region: 'us-east-1', credentials: CREDENTIALS });
  return {
    endpoint,
    client,
    bucket,
    env,
    put: async (key, body) => (await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }))).ETag ?? '',
    close: async () => {
      client.destroy();
      await server.close();
      rmSync(directory, { recursive: true, force: true });
    },
  };
}
