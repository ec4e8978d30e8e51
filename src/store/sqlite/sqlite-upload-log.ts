import type Database from 'better-sqlite3';
import type { Rejection, UploadRecord } from '../store.js';

const INSERT_UPLOAD = `INSERT INTO uploads (id, table_name, source, status, received, inserted, updated, rejected, incomplete,
  batch_size, strict, dry_run, on_conflict, started_at, elapsed_ms, message)
  VALUES (@upload_id, @table, @source, @status, @received, @inserted, @updated, @rejected, @incomplete,
  @batch_size, @strict, @dry_run, @on_conflict, @started_at, @elapsed_ms, @message)`;

export const UPLOAD_REJECTS_SQL = 'SELECT line, raw, reason FROM upload_rejects WHERE upload_id = ? ORDER BY line, rowid';

/** Writes an upload's report and its rejected rows; the caller owns the transaction. */
export async function insertUploadLog(db: Database.Database, record: UploadRecord, rejects: AsyncIterable<Rejection>): Promise<void> {
  db.prepare(INSERT_UPLOAD).run({ ...record, strict: record.strict ? 1 : 0, dry_run: record.dry_run ? 1 : 0 });
  const insertReject = db.prepare('INSERT INTO upload_rejects (upload_id, line, raw, reason) VALUES (?, ?, ?, ?)');
  for await (const r of rejects) insertReject.run(record.upload_id, r.line, r.raw, r.reason);
}

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
