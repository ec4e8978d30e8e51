import type Database from 'better-sqlite3';
import type { Rejection, UploadRecord } from '../store.js';

const INSERT_UPLOAD = `INSERT INTO uploads (id, table_name, source, status, received, inserted, updated, rejected, incomplete,
  batch_size, strict, dry_run, on_conflict, started_at, elapsed_ms, message)
  VALUES (@upload_id, @table, @source, @status, @received, @inserted, @updated, @rejected, @incomplete,
  @batch_size, @strict, @dry_run, @on_conflict, @started_at, @elapsed_ms, @message)`;

/** Rejected rows per keyset page, at most; and their text, at most (past its first row). */
const REJECTS_PAGE = 1000;
const REJECTS_PAGE_CHARS = 256 * 1024;

/**
 * The page, then as many of its rows as fit in REJECTS_PAGE_CHARS: a download holds one page
 * while its client reads, and 1,000 records of 64 KiB would be 64 MB of heap each.
 */
const REJECTS_PAGE_SQL = `SELECT line, raw, reason, seq, n FROM (
    SELECT line, raw, reason, seq, count(*) OVER () AS n,
           sum(length(raw)) OVER (ORDER BY line, seq ROWS UNBOUNDED PRECEDING) - length(raw) AS before
    FROM (SELECT line, raw, reason, rowid AS seq FROM upload_rejects
          WHERE upload_id = ? AND (line, rowid) > (?, ?) ORDER BY line, rowid LIMIT ${REJECTS_PAGE}))
  WHERE before < ${REJECTS_PAGE_CHARS} ORDER BY line, seq`;

/** Where a page of rejected rows ends: the next one starts after it. */
export interface RejectsCursor {
  line: number;
  seq: number;
}

/**
 * One page of an upload's rejected rows in (line, rowid) order after `after`, read whole by one
 * statement (its read transaction ends before the rows are used); `next` is undefined on the last.
 */
export function rejectsPage(db: Database.Database, id: string, after: RejectsCursor): { rows: Rejection[]; next?: RejectsCursor } {
  const page = db.prepare(REJECTS_PAGE_SQL).all(id, after.line, after.seq) as (Rejection & { seq: number; n: number })[];
  const last = page.at(-1);
  const rows = page.map(({ line, raw, reason }) => ({ line, raw, reason }));
  // The last page: fewer rows than a page, none cut for their size.
  const done = last === undefined || (last.n < REJECTS_PAGE && page.length === last.n);
  return { rows, next: done ? undefined : { line: last.line, seq: last.seq } };
}

/** Writes an upload's report and its rejected rows; the caller owns the transaction. */
export async function insertUploadLog(db: Database.Database, record: UploadRecord, rejects: AsyncIterable<Rejection>): Promise<void> {
  db.prepare(INSERT_UPLOAD).run({ ...record, strict: record.strict ? 1 : 0, dry_run: record.dry_run ? 1 : 0 });
  const insertReject = db.prepare('INSERT INTO upload_rejects (upload_id, line, raw, reason) VALUES (?, ?, ?, ?)');
  for await (const r of rejects) insertReject.run(record.upload_id, r.line, r.raw, r.reason);
}

/** The record as the uploads table holds it: id and table under their column names, booleans as 0/1. */
interface UploadRow extends Omit<UploadRecord, 'table' | 'upload_id' | 'strict' | 'dry_run'> {
  id: string;
  table_name: UploadRecord['table'];
  strict: number;
  dry_run: number;
}

export function readUpload(db: Database.Database, id: string): UploadRecord | undefined {
  const row = db.prepare('SELECT * FROM uploads WHERE id = ?').get(id) as UploadRow | undefined;
  if (row === undefined) return undefined;
  const { id: uploadId, table_name, strict, dry_run, ...rest } = row;
  return { upload_id: uploadId, table: table_name, ...rest, strict: strict === 1, dry_run: dry_run === 1 };
}
