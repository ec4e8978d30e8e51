import type Database from 'better-sqlite3';
import type { Rejection, UploadRecord } from '../store.js';

const INSERT_UPLOAD = `INSERT INTO uploads (id, table_name, source, status, received, inserted, updated, rejected, incomplete,
  batch_size, strict, dry_run, on_conflict, started_at, elapsed_ms, message)
  VALUES (@upload_id, @table, @source, @status, @received, @inserted, @updated, @rejected, @incomplete,
  @batch_size, @strict, @dry_run, @on_conflict, @started_at, @elapsed_ms, @message)`;

/** Rejected rows per keyset page. */
/** Rejected rows per page of a rejects.csv: at 64 KiB a record (the limit), 6.4 MB of heap per download. */
const REJECTS_PAGE = 100;

const REJECTS_PAGE_SQL = `SELECT line, raw, reason, rowid AS seq FROM upload_rejects
  WHERE upload_id = ? AND (line, rowid) > (?, ?) ORDER BY line, rowid LIMIT ${REJECTS_PAGE}`;

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
  const rows = db.prepare(REJECTS_PAGE_SQL).all(id, after.line, after.seq) as (Rejection & { seq: number })[];
  const last = rows.at(-1);
  return { rows, next: last === undefined || rows.length < REJECTS_PAGE ? undefined : { line: last.line, seq: last.seq } };
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
