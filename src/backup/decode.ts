import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import avro from 'avsc';
import { AppError, isAppError, SourceAbortedError } from '../errors.js';
import { convertField } from '../ingest/row-rules.js';
import type { Row, TableDef, Value } from '../tables.js';
import { readerType } from './avro-schema.js';
import { checkWriterSchema } from './schema-check.js';

/** A file whose header is not complete after this many bytes is not a backup. */
const MAX_HEADER_BYTES = 1024 * 1024;
/** A block (compressed) larger than this is refused rather than buffered: ours are ~64 KiB. */
const MAX_BLOCK_BYTES = 64 * 1024 * 1024;

const invalid = (message: string, details?: unknown): AppError =>
  new AppError('BACKUP_INVALID', `The file is not a valid Avro backup: ${message}`, details);

/**
 * avsc's decoder keeps the bytes it has not decoded yet here; no public API tells them. avsc is
 * pinned to the exact version this was written against (package.json), and
 * test/exactness/library-patches.test.ts fails when the installed one differs or lacks these fields.
 */
interface DecoderState {
  _tap: { buf: Buffer; pos: number };
  _syncMarker: Buffer | null;
}
const undecodedBytes = (decoder: avro.streams.BlockDecoder): number => {
  const tap = (decoder as unknown as DecoderState)._tap;
  return tap.buf.length - tap.pos;
};
const headerRead = (decoder: avro.streams.BlockDecoder): boolean => (decoder as unknown as DecoderState)._syncMarker !== null;

/**
 * Decodes an Avro object container file (any codec avsc knows: null, deflate) into rows of
 * `table`, streamed: the bytes are read as the rows are consumed, so memory does not grow with
 * the file. The writer's schema is checked against the table's before any row is read
 * (SCHEMA_MISMATCH, naming the field); a file that is not Avro, is cut short or holds a value
 * the table cannot store is BACKUP_INVALID. Both are thrown while iterating, before or after
 * some rows: the caller's transaction must roll back.
 */
export async function* decodeBackup(source: AsyncIterable<Buffer>, table: TableDef): AsyncGenerator<Row> {
  const decoder = new avro.streams.BlockDecoder({
    readerSchema: readerType(table),
    parseHook: (schema) => checkWriterSchema(table, schema),
  });
  const guard = new SizeGuard(decoder);
  // The body's own failures (too large, the client gone) are told apart from the file's.
  let sourceError: unknown;
  async function* body(): AsyncIterable<Buffer> {
    try {
      yield* source;
    } catch (error) {
      sourceError = error;
      throw error;
    }
  }
  const feeding = pipeline(body(), guard, decoder);
  // Its failure also destroys the decoder, which is where the loop below sees it.
  feeding.catch(() => undefined);
  let record = 0;
  try {
    for await (const value of decoder as AsyncIterable<Record<string, unknown>>) {
      record++;
      yield toRow(table, value, record);
    }
    await feeding;
    if (!headerRead(decoder)) throw invalid(guard.bytes === 0 ? 'the body is empty' : 'the file is cut short inside its header');
    const left = undecodedBytes(decoder);
    if (left > 0) throw invalid(`the file is cut short: its last ${left} bytes are not a whole block`, { after_records: record });
  } catch (error) {
    if (sourceError !== undefined) throw sourceError instanceof SourceAbortedError ? new AppError('CLIENT_CLOSED') : sourceError;
    if (isAppError(error)) throw error;
    // Anything else the decoder raised is the file's fault: bad magic, sync marker, codec, value.
    const cause = error instanceof Error && error.cause instanceof Error ? ` (${error.cause.message})` : '';
    throw invalid(`${error instanceof Error ? error.message : String(error)}${cause}`, { after_records: record });
  } finally {
    decoder.destroy();
  }
}

/** One decoded record as a stored row, checked as the row rules check a CSV field. */
function toRow(table: TableDef, record: Record<string, unknown>, index: number): Row {
  const row: Row = new Array<Value>(table.columns.length);
  for (let i = 0; i < table.columns.length; i++) {
    const column = table.columns[i]!;
    const value = record[column.name];
    const fail = (reason: string): never => {
      throw invalid(`record ${index}: ${reason}`, { record: index, field: column.name, reason });
    };
    if (value === null || value === undefined) {
      if (column.primaryKey) fail(`${column.name} is null`);
      row[i] = null;
    } else if (column.type === 'integer') {
      if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) {
        fail(`${column.name} must be a positive integer within 2^53: ${String(value)}`);
      }
      row[i] = value as number;
    } else if (column.type === 'text') {
      const checked = convertField(column, value as string);
      if ('reason' in checked) fail(checked.reason);
      row[i] = value as string;
    } else {
      // The timestamp logical type already made it the canonical UTC text.
      row[i] = value as string;
    }
  }
  return row;
}

/**
 * Counts the bytes going into the decoder and refuses a header or a block too large to be a
 * backup's, so a hostile file cannot make the decoder buffer the whole body.
 */
class SizeGuard extends Transform {
  bytes = 0;

  constructor(private readonly decoder: avro.streams.BlockDecoder) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    const before = this.bytes;
    this.bytes += chunk.length;
    if (!headerRead(this.decoder)) {
      // The decoder has not seen this chunk yet: only the bytes before it count (one big chunk, as
      // a body given whole, may hold the header and everything after it).
      if (before > MAX_HEADER_BYTES) return callback(invalid(`no Avro header in its first ${MAX_HEADER_BYTES} bytes`));
    } else if (undecodedBytes(this.decoder) > MAX_BLOCK_BYTES) {
      return callback(invalid(`a block is larger than ${MAX_BLOCK_BYTES} bytes`));
    }
    callback(null, chunk);
  }
}
