import { setImmediate as nextTurn } from 'node:timers/promises';
import { TextDecoder } from 'node:util';
import { randomUUID } from 'node:crypto';
import { AppError, isAppError, SourceAbortedError } from '../errors.js';
import type { TableDef } from '../tables.js';
import type { UploadReport } from '../upload-record.js';
import type { LoadOutcome, LoadSession, Store, StagedRow, UploadRecord, UploadStatus } from '../store/store.js';
import { isUtf8 } from 'node:buffer';
import { CopyScanner, mayScan, type ScannedPart } from './copy-scan.js';
import { CsvRecordReader, CsvSyntaxError } from './csv-records.js';
import { RejectSpool } from './reject-spool.js';
import { checkFields } from './row-rules.js';
import { LF } from '../lib/bytes.js';

export interface UploadOptions {
  table: TableDef;
  /** Rows per insert chunk. */
  batchSize: number;
  /** Reject incomplete rows and rows whose references are not stored. */
  strict: boolean;
  dryRun: boolean;
  onConflict: 'reject' | 'update';
  maxBytes: number;
  maxRecordChars: number;
  /** Most fields in one record; more makes the whole upload CSV_MALFORMED. */
  maxFields?: number;
  /** Called after every chunk with the bytes read and records parsed so far. */
  onProgress?: (bytes: number, records: number) => void;
  /**
   * Aborts when whoever asked has gone (the client, a cancelled or stopped import job): an upload
   * still waiting for its write turn then never starts (CLIENT_CLOSED).
   */
  signal?: AbortSignal;
}

/** The answer of POST /upload: the logged record plus the first hundred errors. */
export type { UploadReport };

// Where it was first declared; it lives in the error catalogue now.
export { SourceAbortedError };

/**
 * Streams a CSV body into a table in one transaction: decode → records with line numbers →
 * row rules → chunks of `batchSize` → store. Reading waits for each chunk's write, so a slow
 * database slows the upload down instead of filling memory.
 */
export async function ingestCsv(store: Store, source: AsyncIterable<Buffer | string>, options: UploadOptions): Promise<UploadReport> {
  const started = Date.now();
  const record: UploadRecord = {
    upload_id: randomUUID(),
    table: options.table.name,
    source: 'csv',
    status: 'committed',
    received: 0,
    inserted: 0,
    updated: 0,
    rejected: 0,
    incomplete: 0,
    batch_size: options.batchSize,
    strict: options.strict,
    dry_run: options.dryRun,
    on_conflict: options.onConflict,
    started_at: new Date(started).toISOString(),
    elapsed_ms: 0,
    message: null,
  };
  const spool = new RejectSpool();
  const tally = (outcome: LoadOutcome): void => {
    record.inserted += outcome.inserted;
    record.updated += outcome.updated;
    record.incomplete += outcome.incomplete;
    for (const r of outcome.rejected) spool.add(r);
  };
  const finish = (status: UploadStatus, message: string | null): UploadReport => {
    record.status = status;
    record.message = message;
    record.rejected = spool.count;
    record.elapsed_ms = Date.now() - started;
    return { ...record, errors: spool.firstErrors() };
  };

  const session = await store.openLoad(
    options.table,
    { onConflict: options.onConflict, checkReferences: options.strict },
    { signal: options.signal },
  );
  try {
    const reader = new CsvRecordReader(options.maxRecordChars);
    const maxFields = options.maxFields ?? Number.POSITIVE_INFINITY;
    const decoder = new TextDecoder('utf-8', { fatal: true });
    let bytes = 0;
    let chunk: StagedRow[] = [];
    let chunkChars = 0;
    const stage = async (records: ReturnType<CsvRecordReader['push']>): Promise<void> => {
      for (const r of records) {
        if (r.fields.length > maxFields) {
          throw new CsvSyntaxError(`line ${r.line}: ${r.fields.length} fields, more than the limit of ${maxFields}`, r.line);
        }
        record.received++;
        const check = checkFields(options.table, r.fields, options.strict);
        if (check.ok) {
          chunk.push({ line: r.line, raw: r.raw, values: check.values, incomplete: check.incomplete });
          chunkChars += r.raw.length;
        } else spool.add({ line: r.line, raw: r.raw, reason: check.reason });
        if (chunk.length >= options.batchSize || chunkChars >= CHUNK_CHARS) {
          tally(await session.write(chunk));
          chunk = [];
          chunkChars = 0;
        }
      }
    };
    const fields = (text: string, line: number): string[] => {
      const split = text.split(',');
      if (split.length > maxFields)
        throw new CsvSyntaxError(`line ${line}: ${split.length} fields, more than the limit of ${maxFields}`, line);
      return split;
    };
    // PostgreSQL: whole lines of plain CSV take the byte path, the rest the records below.
    const scanner =
      session.writeCopyRows === undefined
        ? undefined
        : new CopyScanner(options.table, { strict: options.strict, maxRecordBytes: options.maxRecordChars }, (text, line) =>
            checkFields(options.table, fields(text, line), options.strict),
          );
    const scanned = async (part: ScannedPart): Promise<void> => {
      record.received += part.received;
      for (const r of part.rejected) spool.add(r);
      if (part.count > 0) {
        // The rows read the other way before these go first.
        if (chunk.length > 0) tally(await session.write(chunk));
        chunk = [];
        chunkChars = 0;
        tally(await session.writeCopyRows!(part));
      }
      reader.advance(part.lines);
    };
    /** The start of a line not complete yet (bytes after the piece's last LF), for the byte path. */
    let carry: Buffer | undefined;
    /** The decoder has seen the file's first bytes: a byte order mark there is its to drop. */
    let decoded = false;
    const readText = async (bytes: Buffer): Promise<void> => {
      decoded = true;
      await stage(reader.push(decodeChunk(decoder, bytes, reader)));
    };
    /** Whole lines (`lines` ends with LF): the byte path when it can take them, else the records. */
    const readLines = async (lines: Buffer, scan: CopyScanner): Promise<void> => {
      if (decoded && reader.idle && mayScan(lines) && isUtf8(lines)) {
        const part = scan.scan(lines, reader.position().line);
        if (part !== undefined) return scanned(part);
      }
      await readText(lines);
    };
    const readBytes = async (piece: Buffer, scan: CopyScanner): Promise<void> => {
      let rest = piece;
      if (carry !== undefined) {
        // The line begun in the previous piece, completed on its own (no copy of the whole piece).
        const first = piece.indexOf(LF) + 1;
        if (first === 0) {
          const longer = Buffer.concat([carry, piece]);
          carry = undefined;
          if (longer.length > options.maxRecordChars) await readText(longer);
          else carry = longer;
          return;
        }
        const head = Buffer.concat([carry, piece.subarray(0, first)]);
        carry = undefined;
        await readLines(head, scan);
        rest = piece.subarray(first);
      }
      const end = rest.lastIndexOf(LF) + 1;
      if (end === 0) {
        if (rest.length > options.maxRecordChars) await readText(rest);
        else if (rest.length > 0) carry = Buffer.from(rest);
        return;
      }
      // Copied: a slice would keep the whole piece alive.
      if (end < rest.length) carry = Buffer.from(rest.subarray(end));
      await readLines(end === rest.length ? rest : rest.subarray(0, end), scan);
    };
    for await (const piece of source) {
      // One piece of the body per turn of the event loop. Node reads up to 32 socket buffers in
      // one poll and would run this loop for each in a row (seconds of stalls for other requests
      // behind a synchronous store); yielding here, where the least is in flight (no records of
      // the previous piece), also lets those rows die young instead of filling the old generation.
      await nextTurn();
      bytes += piece.length;
      if (bytes > options.maxBytes) throw new AppError('PAYLOAD_TOO_LARGE', `The file is larger than ${options.maxBytes} bytes`);
      if (scanner !== undefined && typeof piece !== 'string') await readBytes(piece, scanner);
      else {
        if (carry !== undefined) await readText(carry);
        carry = undefined;
        await stage(reader.push(typeof piece === 'string' ? piece : decodeChunk(decoder, piece, reader)));
      }
      options.onProgress?.(bytes, record.received);
    }
    if (carry !== undefined) await readText(carry);
    await stage([...reader.push(decodeChunk(decoder, undefined, reader)), ...reader.end()]);
    // The last record of a file without a final line break is only read here.
    options.onProgress?.(bytes, record.received);
    if (chunk.length > 0) tally(await session.write(chunk));
    tally(await session.finish());
    if (record.received === 0) throw new AppError('FILE_EMPTY', 'The file holds no rows');

    if (options.dryRun) {
      await session.rollback();
      const report = finish('dry_run', null);
      await store.saveUpload(report, spool.read());
      return report;
    }
    const report = finish('committed', null);
    await session.commit(toRecord(report), spool.read());
    return report;
  } catch (error) {
    await rollbackQuietly(session);
    const failure = describeFailure(error);
    const report = finish(failure.status, failure.error.message);
    // The upload's rows are gone, but its report and rejected lines stay in the log, so the
    // upload_id the error names always resolves (unless the database itself is what failed).
    await store.saveUpload(toRecord(report), spool.read()).catch(() => undefined);
    if (isAppError(failure.error) && failure.error.code !== 'INTERNAL') {
      const details = { upload_id: record.upload_id, ...(failure.line === undefined ? {} : { line: failure.line }) };
      throw new AppError(failure.error.code, failure.error.message, details, failure.error.retryAfter);
    }
    throw error;
  } finally {
    spool.dispose();
  }
}

/**
 * Text a chunk holds before it is written, whatever `batchSize` says: 100,000 records of 64 KiB
 * (both at their limits) would otherwise be 6 GiB of heap for one upload (see README, "The heap").
 */
const CHUNK_CHARS = 1 << 20;

const toRecord = ({ errors: _errors, ...record }: UploadReport): UploadRecord => record;

function decodeChunk(decoder: TextDecoder, bytes: Buffer | undefined, reader: CsvRecordReader): string {
  try {
    return bytes === undefined ? decoder.decode() : decoder.decode(bytes, { stream: true });
  } catch {
    const { line: after, pendingCr } = reader.position();
    // A CR the text ended with is a line break of its own unless the next byte is its LF.
    const crBreak = pendingCr && (bytes === undefined || bytes[0] !== 10) ? 1 : 0;
    const line = after + crBreak + (bytes === undefined ? 0 : breaksBeforeInvalid(bytes));
    throw new CsvSyntaxError(`line ${line}: bytes that are not valid UTF-8`, line);
  }
}

/**
 * Line breaks in `bytes` before its first byte that is not UTF-8 (found by bisecting with a fatal
 * decoder: a prefix fails to decode exactly when it holds that byte). Only on the failure path.
 * A break is LF, CRLF or a lone CR; a CRLF split across two pieces is counted once.
 */
function breaksBeforeInvalid(bytes: Buffer): number {
  // Continuation bytes of a character begun in the previous piece: never line breaks, skipped.
  let start = 0;
  while (start < 3 && start < bytes.length && (bytes[start]! & 0xc0) === 0x80) start++;
  const fails = (end: number): boolean => {
    try {
      new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(start, end), { stream: true });
      return false;
    } catch {
      return true;
    }
  };
  let low = start;
  let high = bytes.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (fails(mid + 1)) high = mid;
    else low = mid + 1;
  }
  let breaks = 0;
  for (let i = 0; i < low; i++) {
    const c = bytes[i];
    if (c === 10) breaks++;
    else if (c === 13 && bytes[i + 1] !== 10) breaks++;
  }
  return breaks;
}

async function rollbackQuietly(session: LoadSession): Promise<void> {
  try {
    await session.rollback();
  } catch {
    // The connection may be gone already; the transaction is then rolled back by the database.
  }
}

function describeFailure(error: unknown): { status: UploadStatus; error: Error; line?: number } {
  if (error instanceof CsvSyntaxError) {
    return { status: 'failed', error: new AppError('CSV_MALFORMED', `Malformed CSV at ${error.message}`), line: error.line };
  }
  if (error instanceof SourceAbortedError) return { status: 'aborted', error: new AppError('CLIENT_CLOSED') };
  if (isAppError(error)) return { status: 'failed', error };
  return { status: 'failed', error: error instanceof Error ? error : new Error(String(error)) };
}
