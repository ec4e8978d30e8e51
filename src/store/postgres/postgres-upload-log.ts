import type { Pool, PoolClient } from 'pg';
import type { Rejection, UploadRecord } from '../store.js';
import { copyIn, copyLine } from './copy-text.js';

const INSERT_UPLOAD = `INSERT INTO uploads (id, table_name, source, status, received, inserted, updated, rejected, incomplete,
  batch_size, strict, dry_run, on_conflict, started_at, elapsed_ms, message)
  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`;

/** Rejected rows per COPY message while logging. */
const LOG_PAGE = 1000;

/**
 * raw_bytes of a rejected line (migration 009): its UTF-8 bytes, as a bytea hex literal, when it
 * holds a NUL, which text cannot (raw then holds it with U+FFFD); null otherwise. The line was
 * decoded from valid UTF-8, so encoding it again gives the bytes that were sent.
 */
const rawBytes = (raw: string): string | null => (raw.includes('\0') ? `\\x${Buffer.from(raw, 'utf8').toString('hex')}` : null);

/**
 * Writes an upload's report and its rejected rows (streamed through COPY, so a million rejected
 * rows never sit in memory); the caller owns the transaction.
 */
export async function insertUploadLog(client: PoolClient, record: UploadRecord, rejects: AsyncIterable<Rejection>): Promise<void> {
  await client.query(INSERT_UPLOAD, [
    record.upload_id,
    record.table,
    record.source,
    record.status,
    record.received,
    record.inserted,
    record.updated,
    record.rejected,
    record.incomplete,
    record.batch_size,
    record.strict,
    record.dry_run,
    record.on_conflict,
    record.started_at,
    record.elapsed_ms,
    record.message,
  ]);
  async function* lines(): AsyncIterable<string> {
    let page = '';
    let n = 0;
    for await (const r of rejects) {
      page += copyLine([record.upload_id, r.line, r.raw, r.reason, rawBytes(r.raw)]);
      if (++n % LOG_PAGE === 0) {
        yield page;
        page = '';
      }
    }
    if (page !== '') yield page;
  }
  await copyIn(client, 'COPY upload_rejects (upload_id, line, raw, reason, raw_bytes) FROM STDIN', lines());
}

/** The record as the uploads table holds it: its id and table under their column names. */
interface UploadRow extends Omit<UploadRecord, 'upload_id' | 'table'> {
  id: string;
  table_name: UploadRecord['table'];
}

export async function readUpload(pool: Pool, id: string): Promise<UploadRecord | undefined> {
  const { rows } = await pool.query<UploadRow>(
    `SELECT id, table_name, source, status, received, inserted, updated, rejected, incomplete, batch_size, strict, dry_run,
            on_conflict, started_at, elapsed_ms, message
     FROM uploads WHERE id = $1`,
    [id],
  );
  const row = rows[0];
  if (row === undefined) return undefined;
  const { id: uploadId, table_name, ...rest } = row;
  return { upload_id: uploadId, table: table_name, ...rest };
}

/** Rejected rows read back per page, by keyset: no connection is held while the caller consumes a page. */
/** Rejected rows per keyset page, at most; and their text, at most (past its first row). */
const REJECTS_PAGE = 1000;
const REJECTS_PAGE_CHARS = 256 * 1024;

/**
 * The page, then as many of its rows as fit in REJECTS_PAGE_CHARS: a download holds one page
 * while its client reads, and 1,000 records of 64 KiB would be 64 MB of heap each.
 */
const rejectsPageSql = (after: boolean): string => `SELECT line, raw, raw_bytes, reason, seq, n FROM (
    SELECT *, count(*) OVER () AS n,
           sum(length(raw) + coalesce(octet_length(raw_bytes), 0)) OVER (ORDER BY line, seq ROWS UNBOUNDED PRECEDING)
             - length(raw) - coalesce(octet_length(raw_bytes), 0) AS before
    FROM (SELECT line, raw, raw_bytes, reason, seq FROM upload_rejects
          WHERE upload_id = $1${after ? ' AND (line, seq) > ($3, $4)' : ''} ORDER BY line, seq LIMIT $2) AS page) AS sized
  WHERE before < ${REJECTS_PAGE_CHARS} ORDER BY line, seq`;

/** `gate` runs each page's query (the store bounds how many export pages are read at once). */
export async function* readRejects(
  pool: Pool,
  id: string,
  gate: <T>(read: () => Promise<T>) => Promise<T> = (read) => read(),
): AsyncIterable<Rejection> {
  let after: { line: number; seq: number } | undefined;
  for (;;) {
    const { rows } = await gate(() =>
      pool.query<Rejection & { raw_bytes: Buffer | null; seq: number; n: string }>(
        rejectsPageSql(after !== undefined),
        after === undefined ? [id, REJECTS_PAGE] : [id, REJECTS_PAGE, after.line, after.seq],
      ),
    );
    for (const { line, raw, raw_bytes, reason } of rows) yield { line, raw: raw_bytes === null ? raw : raw_bytes.toString('utf8'), reason };
    const last = rows.at(-1);
    // The last page: fewer rows than a page, none cut for their size.
    if (last === undefined || (Number(last.n) < REJECTS_PAGE && rows.length === Number(last.n))) return;
    after = { line: last.line, seq: last.seq };
  }
}
