import type { Readable } from 'node:stream';
import type { FastifyRequest } from 'fastify';
import type { Config } from '../config.js';
import { AppError } from '../errors.js';
import { openSource, SourceError } from '../imports/sources.js';
import type { TableDef } from '../tables.js';
import { readBody } from './idle-timeout.js';

const CSV_TYPES = ['text/csv', 'application/csv'];

export const isCsvContentType = (type: string | undefined): boolean =>
  type !== undefined && CSV_TYPES.includes(type.split(';')[0]!.trim().toLowerCase());

/**
 * The bytes of the uploaded file, streamed: the `file` part of a multipart body, or a raw
 * `text/csv` body. A client that goes away mid-body surfaces as SourceAbortedError; a multipart
 * file cut at the size limit as 413; a body whose next bytes take longer than `idleTimeoutMs` to
 * come (while the upload waits for them) as 408.
 */
export async function uploadSource(request: FastifyRequest, maxBytes: number, idleTimeoutMs = 0): Promise<AsyncIterable<Buffer>> {
  const encoding = request.headers['content-encoding']?.trim().toLowerCase();
  // The body is read as it is sent: a compressed one would be parsed as (malformed) CSV.
  if (encoding !== undefined && encoding !== '' && encoding !== 'identity') {
    throw new AppError('UNSUPPORTED_MEDIA_TYPE', `Content-Encoding ${encoding} is not supported: send the CSV uncompressed`);
  }
  if (request.isMultipart()) {
    if (!/;\s*boundary=\S/i.test(request.headers['content-type'] ?? '')) {
      throw new AppError(
        'MULTIPART_MALFORMED',
        'Content-Type multipart/form-data has no boundary parameter (multipart/form-data; boundary=…)',
      );
    }
    const file = await request.file({ limits: { fileSize: maxBytes, files: 1 } });
    if (file === undefined) throw new AppError('FILE_MISSING', 'No file part: send the CSV in the multipart field "file"');
    if (file.fieldname !== 'file')
      throw new AppError('FILE_MISSING', `The file must be in the multipart field "file", not "${file.fieldname}"`);
    return malformedWhenComplete(
      request,
      readBody(request, file.file, {
        idleTimeoutMs,
        nothing: 'written',
        atEnd: () => {
          if (file.file.truncated) throw new AppError('PAYLOAD_TOO_LARGE', `The file is larger than ${maxBytes} bytes`);
        },
      }),
    );
  }
  if (isCsvContentType(request.headers['content-type'])) {
    const body = request.body as Readable | undefined;
    if (body === undefined || body === null) throw new AppError('FILE_EMPTY', 'The body is empty');
    return readBody(request, body, { idleTimeoutMs, nothing: 'written' });
  }
  throw new AppError('UNSUPPORTED_MEDIA_TYPE', 'Send the CSV as multipart/form-data (field "file") or with Content-Type: text/csv');
}

/** A request with no body at all: no Content-Type, no length (or 0), not chunked. */
export const isBodyless = (request: FastifyRequest): boolean =>
  request.headers['content-type'] === undefined &&
  request.headers['transfer-encoding'] === undefined &&
  Number(request.headers['content-length'] ?? 0) === 0;

/**
 * The original service's call: POST /upload/{table} without a body loads `IMPORT_DIR/<table>.csv`
 * (the canonical name: `employees` reads hired_employees.csv). Without IMPORT_DIR, or without that
 * file, a 400 FILE_MISSING that says what to send.
 */
export async function importFolderFile(
  config: Pick<Config, 'IMPORT_DIR' | 'AWS_ENDPOINT_URL_S3'>,
  table: TableDef,
): Promise<AsyncIterable<Buffer>> {
  const name = `${table.name}.csv`;
  if (config.IMPORT_DIR.trim() === '') {
    throw new AppError(
      'FILE_MISSING',
      `No file was sent: send the CSV as the multipart field "file" or as a text/csv body (a body-less call loads ${name} from the import folder only on a server with IMPORT_DIR set)`,
    );
  }
  try {
    return (await openSource(config, { kind: 'file', name })).stream;
  } catch (error) {
    if (error instanceof SourceError) throw new AppError('FILE_MISSING', `No file was sent, and ${error.message}`);
    throw error;
  }
}

/**
 * The multipart parser fails at the end of a body that lacks its closing boundary (or has a broken
 * part): when the whole body did arrive, the client is still there and the body is at fault, a
 * 400, not a client gone (499).
 */
async function* malformedWhenComplete(request: FastifyRequest, chunks: AsyncIterable<Buffer>): AsyncIterable<Buffer> {
  try {
    yield* chunks;
  } catch (error) {
    if (error instanceof AppError || !request.raw.complete) throw error;
    throw new AppError(
      'MULTIPART_MALFORMED',
      'The multipart body is malformed: it ends before its closing boundary (--boundary--) or a part is broken',
    );
  }
}
