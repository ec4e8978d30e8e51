import { setImmediate as nextTurn } from 'node:timers/promises';
import { promisify } from 'node:util';
import { inflateRaw as inflateRawCallback, inflateRawSync } from 'node:zlib';
import avro from 'avsc';
import { AppError, isAppError, SourceAbortedError } from '../errors.js';
import { convertField } from '../ingest/row-rules.js';
import type { Row, TableDef, Value } from '../tables.js';
import type { RecordBlock } from '../store/store.js';
import { readerType } from './avro-schema.js';
import { MAGIC, MAX_BLOCK_BYTES, MAX_FRAME_BYTES, MAX_HEADER_BYTES, readLong, SYNC_BYTES } from './container.js';
import { ownLayoutRows, PAGE_RECORDS, trailingBytes } from './own-layout.js';
import { checkWriterSchema } from './schema-check.js';
import { TimestampMillis } from './timestamp.js';

const inflateRaw = promisify(inflateRawCallback);

/**
 * Blocks read and inflated ahead of the one whose rows the store is writing (a large one on
 * libuv's thread pool, see INLINE_BLOCK_BYTES).
 */
const AHEAD = 2;

/**
 * A block at most this large, compressed and once inflated, inflates on this thread: ours are
 * ~64 KiB (~0.1 ms of inflate), and the thread pool's hop cost the main thread more than the
 * inflate itself (profiled on a 10M-row PostgreSQL restore: 1.64 s in zlib's stream machinery,
 * a stream and a zlib state per block, against 0.79 s inflating inline). A larger block (another
 * writer's, or one that inflates past the bound) goes to the thread pool, so that no block holds
 * the event loop for long.
 */
const INLINE_BLOCK_BYTES = 1024 * 1024;

/**
 * zlib's output buffer per step: one of our blocks (~64 KiB before deflate, a page more at most)
 * inflates in one step. At zlib's default 16 KiB, each block took several callbacks and a
 * concatenation (profiled: 0.25 s of a 1M-row restore's main thread).
 */
const INFLATE_CHUNK_BYTES = 128 * 1024;

const invalid = (message: string, details?: unknown): AppError =>
  new AppError('BACKUP_INVALID', `The file is not a valid Avro backup: ${message}`, details);

/**
 * The body's bytes not consumed yet, as its chunks arrived. A piece (the header, a block) is
 * joined into one buffer only once all its bytes are there, so a large block sent in many small
 * chunks costs one copy, not one per chunk.
 */
class Bytes {
  private chunks: Buffer[] = [];
  length = 0;
  received = 0;

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.length += chunk.length;
    this.received += chunk.length;
  }

  /** A buffer that starts with the first `n` bytes (n ≤ length); it may hold more. */
  peek(n: number): Buffer {
    let k = 0;
    for (let have = 0; have < n; k++) have += this.chunks[k]!.length;
    if (k > 1) this.chunks.splice(0, k, Buffer.concat(this.chunks.slice(0, k)));
    return this.chunks[0] ?? Buffer.alloc(0);
  }

  skip(n: number): void {
    this.length -= n;
    while (n > 0) {
      const first = this.chunks[0]!;
      if (first.length <= n) {
        n -= first.length;
        this.chunks.shift();
      } else {
        this.chunks[0] = first.subarray(n);
        n = 0;
      }
    }
  }
}

interface FileHeader {
  meta: Record<string, Buffer>;
  sync: Buffer;
  /** Bytes the header takes. */
  length: number;
}

/**
 * The header at the start of `buf` (magic already checked), or undefined when `buf` ends inside
 * it. Parsed by hand rather than with a map type: every step consumes bytes, so a hostile count
 * ("2^50 entries") cannot make it loop past the end of what was received.
 */
function parseHeader(buf: Buffer): FileHeader | undefined {
  const meta: Record<string, Buffer> = {};
  let pos = MAGIC.length;
  const piece = (): Buffer | undefined => {
    const length = readLong(buf, pos);
    if (length === undefined) return undefined;
    if (length.value < 0) throw invalid('its header holds a negative length');
    if (length.offset + length.value > buf.length) return undefined;
    pos = length.offset + length.value;
    return buf.subarray(length.offset, pos);
  };
  for (;;) {
    const count = readLong(buf, pos);
    if (count === undefined) return undefined;
    pos = count.offset;
    let entries = count.value;
    if (entries === 0) break;
    if (entries < 0) {
      // A negative count is followed by the entries' size in bytes (the spec's block form).
      const size = readLong(buf, pos);
      if (size === undefined) return undefined;
      pos = size.offset;
      entries = -entries;
    }
    for (let i = 0; i < entries; i++) {
      const key = piece();
      const value = key === undefined ? undefined : piece();
      if (value === undefined) return undefined;
      meta[key!.toString('utf8')] = Buffer.from(value);
    }
  }
  if (pos + SYNC_BYTES > buf.length) return undefined;
  return { meta, sync: Buffer.from(buf.subarray(pos, pos + SYNC_BYTES)), length: pos + SYNC_BYTES };
}

/** How a block's bytes become its records' bytes. */
function codecOf(name: string): (data: Buffer) => Promise<Buffer> {
  if (name === 'null') return (data) => Promise.resolve(data);
  if (name === 'deflate') {
    const inflated = (data: Buffer): Promise<Buffer> => {
      if (data.length <= INLINE_BLOCK_BYTES) {
        try {
          return Promise.resolve(inflateRawSync(data, { maxOutputLength: INLINE_BLOCK_BYTES, chunkSize: INFLATE_CHUNK_BYTES }));
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'ERR_BUFFER_TOO_LARGE') return Promise.reject(error as Error);
        }
      }
      // Bounded like a compressed block: a small block that inflates to gigabytes is refused.
      return inflateRaw(data, { maxOutputLength: MAX_BLOCK_BYTES, chunkSize: INFLATE_CHUNK_BYTES });
    };
    return (data) =>
      inflated(data).catch((error: NodeJS.ErrnoException) => {
        throw error.code === 'ERR_BUFFER_TOO_LARGE'
          ? invalid(`a block inflates to more than ${MAX_BLOCK_BYTES} bytes`)
          : invalid(`deflate codec decompression error (${error.message})`);
      });
  }
  throw invalid(`unknown codec: ${name}`);
}

/** A backup whose header has been read and whose schema fits the table. */
export interface OpenedBackup {
  /** The writer's schema, as avsc reads it. */
  readonly writer: avro.Type;
  /**
   * Whether the records are laid out exactly as the table's own backup schema writes them (every
   * backup this service makes): a reader may then take them as bytes (Store#importRecords).
   */
  readonly ownLayout: boolean;
  /**
   * The blocks in file order, inflated (a block ahead), framing checked.
   * A framing error, a body cut short or the client gone is thrown while iterating.
   */
  readonly blocks: AsyncGenerator<RecordBlock, void>;
  /** Stops reading the body; not awaited (a body that stalled must not hold the caller). */
  close(): void;
}

/**
 * Opens an Avro object container file (codec null or deflate), streamed: its header is read and
 * the writer's schema checked against the table's before any record is (SCHEMA_MISMATCH, naming
 * the field); its blocks are then read as they are consumed, so memory does not grow with the
 * file. A file that is not Avro, has a header over 1 MiB or a block over 64 MiB, or is cut short
 * is BACKUP_INVALID, thrown here or while iterating the blocks: the caller's transaction must
 * roll back.
 */
export async function openBackup(source: AsyncIterable<Buffer>, table: TableDef): Promise<OpenedBackup> {
  const input = source[Symbol.asyncIterator]();
  const bytes = new Bytes();
  let ended = false;
  // The body's own failures (too large, the client gone) are told apart from the file's.
  let sourceError: unknown;
  /** Reads until `n` bytes are waiting or the body ends; whether they are there. */
  const fill = async (n: number): Promise<boolean> => {
    while (bytes.length < n && !ended) {
      let next: IteratorResult<Buffer>;
      try {
        next = await input.next();
      } catch (error) {
        sourceError = error;
        throw error;
      }
      if (next.done === true) ended = true;
      else bytes.push(next.value);
    }
    return bytes.length >= n;
  };
  /** Records in the blocks framed so far (a framing error is reported after them). */
  let framed = 0;
  const failure = (error: unknown): unknown => {
    if (sourceError !== undefined) return sourceError instanceof SourceAbortedError ? new AppError('CLIENT_CLOSED') : sourceError;
    if (isAppError(error)) return error;
    // Anything else is the file's fault (a varint past 2^53, a schema avsc refuses, …).
    return invalid(error instanceof Error ? error.message : String(error), { after_records: framed });
  };
  const close = (): void => {
    input.return?.()?.catch(() => undefined);
  };

  const cutShort = (): AppError =>
    invalid(`the file is cut short: its last ${bytes.length} bytes are not a whole block`, { after_records: framed });

  async function readHeader(): Promise<FileHeader> {
    // Tried on twice as many bytes each time: a header sent a byte per chunk is not parsed a million times.
    for (let want = 4096; ; want = Math.min(2 * want, MAX_HEADER_BYTES + 1)) {
      await fill(want);
      if (bytes.length >= MAGIC.length && !bytes.peek(MAGIC.length).subarray(0, MAGIC.length).equals(MAGIC)) {
        throw invalid('invalid magic bytes (it is not an Avro object container file)');
      }
      const header = bytes.length >= MAGIC.length ? parseHeader(bytes.peek(bytes.length)) : undefined;
      // A header is refused past MAX_HEADER_BYTES even when it all arrived in one chunk.
      if (header !== undefined && header.length <= MAX_HEADER_BYTES) {
        bytes.skip(header.length);
        return header;
      }
      if (header !== undefined || bytes.received > MAX_HEADER_BYTES) throw invalid(`no Avro header in its first ${MAX_HEADER_BYTES} bytes`);
      if (ended) throw invalid(bytes.received === 0 ? 'the body is empty' : 'the file is cut short inside its header');
    }
  }

  let header: FileHeader;
  let codec: (data: Buffer) => Promise<Buffer>;
  let writer: avro.Type;
  try {
    header = await readHeader();
    codec = codecOf((header.meta['avro.codec'] ?? Buffer.from('null')).toString());
    const schemaText = header.meta['avro.schema'];
    if (schemaText === undefined) throw invalid('its header has no avro.schema');
    let schema: unknown;
    try {
      schema = JSON.parse(schemaText.toString('utf8'));
    } catch (error) {
      throw invalid(`its schema is not JSON (${(error as Error).message})`);
    }
    writer = checkWriterSchema(table, schema);
  } catch (error) {
    close();
    throw failure(error);
  }

  /** The next block's records (count and bytes, still compressed), or undefined at the end of the file. */
  const readBlock = async (): Promise<{ count: number; data: Buffer } | undefined> => {
    if (!(await fill(1))) return undefined;
    await fill(MAX_FRAME_BYTES);
    const head = bytes.peek(Math.min(MAX_FRAME_BYTES, bytes.length));
    const count = readLong(head, 0);
    const length = count === undefined ? undefined : readLong(head, count.offset);
    if (count === undefined || length === undefined) {
      if (ended) throw cutShort();
      throw invalid('a block does not start with its record count and length', { after_records: framed });
    }
    if (count.value < 0 || length.value < 0) throw invalid('a block has a negative record count or length', { after_records: framed });
    if (length.value > MAX_BLOCK_BYTES) throw invalid(`a block is larger than ${MAX_BLOCK_BYTES} bytes`, { after_records: framed });
    const end = length.offset + length.value + SYNC_BYTES;
    if (!(await fill(end))) throw cutShort();
    const buf = bytes.peek(end);
    if (!buf.subarray(end - SYNC_BYTES, end).equals(header.sync)) throw invalid('invalid sync marker', { after_records: framed });
    const data = buf.subarray(length.offset, end - SYNC_BYTES);
    bytes.skip(end);
    framed += count.value;
    return { count: count.value, data };
  };

  async function* blocks(): AsyncGenerator<RecordBlock, void> {
    const inflating: { count: number; data: Promise<Buffer> }[] = [];
    /** Records in the blocks handed on so far. */
    let handed = 0;
    try {
      for (;;) {
        while (inflating.length < AHEAD) {
          const block = await readBlock();
          if (block === undefined) break;
          const data = codec(block.data);
          // Observed at once: a block read ahead may never be awaited (an earlier one failed).
          data.catch(() => undefined);
          inflating.push({ count: block.count, data });
        }
        const next = inflating.shift();
        if (next === undefined) break;
        const data = await next.data;
        // Every record takes a byte at least (its id): a larger count is a lie, refused before any allocation.
        if (next.count > data.length) {
          throw invalid(`a block claims ${next.count} records in ${data.length} bytes`, { after_records: handed });
        }
        const first = handed + 1;
        handed += next.count;
        yield { records: data, count: next.count, first };
      }
    } catch (error) {
      throw failure(error);
    } finally {
      inflating.length = 0;
      close();
    }
  }

  return { writer, ownLayout: isOwnLayout(table, writer), blocks: blocks(), close };
}

/**
 * Whether a writer's schema lays records out byte for byte as the table's own backup schema
 * (avro-schema.ts): the table's columns in order, the key a `long`, every other column a
 * `["null", T]` union with T a `long`, a `string` or a `timestamp-millis` long.
 */
function isOwnLayout(table: TableDef, writer: avro.Type): boolean {
  if (!(writer instanceof avro.types.RecordType) || writer.fields.length !== table.columns.length) return false;
  return table.columns.every((column, i) => {
    const field = writer.fields[i]!;
    if (field.name !== column.name) return false;
    if (column.primaryKey) return field.type.typeName === 'long';
    const union = field.type;
    if (!(union instanceof avro.types.UnwrappedUnionType) || union.types.length !== 2 || union.types[0]!.typeName !== 'null') return false;
    const type = union.types[1]!;
    if (column.type === 'datetime') return type instanceof TimestampMillis;
    return type.typeName === (column.type === 'integer' ? 'long' : 'string');
  });
}

/**
 * Decodes an Avro object container file into pages of rows of `table` (see openBackup): each
 * block's records decoded at once with avsc's `Type#decode` and the resolver from the writer's
 * schema to the table's. A value the table cannot store is BACKUP_INVALID naming the record.
 */
export async function* decodeBackup(source: AsyncIterable<Buffer>, table: TableDef): AsyncGenerator<Row[]> {
  const backup = await openBackup(source, table);
  try {
    yield* backupRows(table, backup);
  } finally {
    backup.close();
  }
}

/**
 * The rows of an opened backup's blocks, in pages (see decodeBackup). A file in the table's own
 * layout is read by hand (own-layout.ts: no avsc record, no resolver; the same checks), any other
 * with avsc.
 */
export async function* backupRows(table: TableDef, backup: OpenedBackup): AsyncGenerator<Row[]> {
  if (backup.ownLayout) {
    yield* ownLayoutRows(table, backup.blocks);
    return;
  }
  const reader = readerType(table);
  let resolver: ReturnType<avro.Type['createResolver']>;
  try {
    resolver = reader.createResolver(backup.writer);
  } catch (error) {
    throw invalid(error instanceof Error ? error.message : String(error));
  }
  let record = 0;
  for await (const block of backup.blocks) {
    const data = block.records;
    let pos = 0;
    for (let done = 0; done < block.count;) {
      const page = new Array<Row>(Math.min(PAGE_RECORDS, block.count - done));
      for (let i = 0; i < page.length; i++) {
        record++;
        let decoded: { value: unknown; offset: number };
        try {
          decoded = reader.decode(data, pos, resolver);
        } catch (error) {
          throw invalid(`record ${record}: ${(error as Error).message}`, { record });
        }
        if (decoded.offset < 0) throw invalid(`record ${record}: its block ends inside it`, { record });
        pos = decoded.offset;
        page[i] = toRow(table, decoded.value as Record<string, unknown>, record);
      }
      done += page.length;
      yield page;
      // Only another writer's large block has more than one page: the event loop gets a turn between them.
      if (done < block.count) await nextTurn();
    }
    if (pos !== data.length) throw trailingBytes(data.length - pos, record);
  }
}

/** One decoded record as a stored row, checked as the row rules check a CSV field. */
function toRow(table: TableDef, record: Record<string, unknown>, index: number): Row {
  const columns = table.columns;
  const row: Row = new Array<Value>(columns.length);
  for (let i = 0; i < columns.length; i++) {
    const column = columns[i]!;
    const value = record[column.name];
    if (value === null || value === undefined) {
      if (column.primaryKey) throw badValue(index, column.name, `${column.name} is null`);
      row[i] = null;
    } else if (column.type === 'integer') {
      if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) {
        throw badValue(index, column.name, `${column.name} must be a positive integer within 2^53: ${String(value)}`);
      }
      row[i] = value;
    } else if (column.type === 'text') {
      const checked = convertField(column, value as string);
      if ('reason' in checked) throw badValue(index, column.name, checked.reason);
      row[i] = value as string;
    } else {
      // The timestamp logical type already made it the canonical UTC text.
      row[i] = value as string;
    }
  }
  return row;
}

const badValue = (record: number, field: string, reason: string): AppError =>
  invalid(`record ${record}: ${reason}`, { record, field, reason });
