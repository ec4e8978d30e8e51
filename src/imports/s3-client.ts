import { S3Client } from '@aws-sdk/client-s3';
import type { Config } from '../config.js';

/**
 * The S3 client of the service: credentials and region from the SDK's default chain (environment,
 * profile, ECS/EC2 role). With AWS_ENDPOINT_URL_S3 set (MinIO, LocalStack, s3rver), that endpoint
 * with path-style addressing, and us-east-1 when no region is configured (those stores ignore it).
 */
export function createS3Client(config: Pick<Config, 'AWS_ENDPOINT_URL_S3'>): S3Client {
  const endpoint = config.AWS_ENDPOINT_URL_S3.trim();
  if (endpoint === '') return new S3Client({});
  const region = process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1';
  return new S3Client({ endpoint, forcePathStyle: true, region });
}
