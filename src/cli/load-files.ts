import { createReadStream, existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../config.js';
import { AppError } from '../errors.js';
import { createS3Client, loadS3Sdk } from '../imports/s3-client.js';
import { openSource, parseSource } from '../imports/sources.js';
import { TABLE_NAMES, TABLES, type TableDef } from '../tables.js';

/** One CSV file of a load: where it is, its size (for the progress bar) and how to read it. */
export interface LoadFile {
  table: TableDef;
  /** The path or URI, as messages name it. */
  name: string;
  bytes: number;
  open(): Promise<AsyncIterable<Buffer>>;
}

export interface LoadFiles {
  /** The tables' files found, in the dictionary's order. */
  files: LoadFile[];
  close(): void;
}

/** The three files of a local folder or of an S3 prefix (`s3://bucket/prefix/`). */
export const findFiles = (location: string, config: Config): Promise<LoadFiles> =>
  location.startsWith('s3://') ? s3Files(location, config) : Promise.resolve({ files: folderFiles(location), close: () => undefined });

function folderFiles(folder: string): LoadFile[] {
  return TABLE_NAMES.map((name) => ({ table: TABLES[name], path: join(folder, `${name}.csv`) }))
    .filter((f) => existsSync(f.path))
    .map(({ table, path }) => ({
      table,
      name: path,
      bytes: statSync(path).size,
      open: () => Promise.resolve(createReadStream(path, { highWaterMark: 256 * 1024 })),
    }));
}

/**
 * The prefix is listed once (sizes for the bars); each file is then read as an import job reads
 * its source (openSource: ranged GetObject checked against the ETag). `s3://bucket/prefix` without
 * the final slash is the same folder.
 */
async function s3Files(location: string, config: Config): Promise<LoadFiles> {
  const folder = location.endsWith('/') ? location : `${location}/`;
  const bare = /^s3:\/\/([^/]+)\/$/.exec(folder);
  // parseSource checks the bucket name and the key; a whole bucket (no prefix) is a folder too.
  const parsed = parseSource(bare === null ? folder : `${folder}x`, config, { allowPrefix: true });
  if (parsed.kind !== 's3') throw new AppError('SOURCE_INVALID', `Not an S3 folder: ${location}`);
  const prefix = bare === null ? parsed.key : '';
  const { ListObjectsV2Command } = await loadS3Sdk();
  const client = await createS3Client(config);
  try {
    const listed = await client.send(new ListObjectsV2Command({ Bucket: parsed.bucket, Prefix: prefix, Delimiter: '/' }));
    const sizes = new Map((listed.Contents ?? []).map((o) => [o.Key, o.Size ?? 0]));
    const files = TABLE_NAMES.filter((name) => sizes.has(`${prefix}${name}.csv`)).map((name): LoadFile => {
      const key = `${prefix}${name}.csv`;
      return {
        table: TABLES[name],
        name: `s3://${parsed.bucket}/${key}`,
        bytes: sizes.get(key)!,
        open: async () => (await openSource(config, { kind: 's3', bucket: parsed.bucket, key }, { s3: client })).stream,
      };
    });
    return { files, close: () => client.destroy() };
  } catch (error) {
    client.destroy();
    const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    const why = status === 404 ? `the bucket "${parsed.bucket}" does not exist` : status === 403 ? 'access denied' : String(error);
    throw new AppError('SOURCE_INVALID', `${folder} cannot be listed: ${why}`);
  }
}
