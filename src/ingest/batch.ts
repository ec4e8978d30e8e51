import { randomUUID } from 'node:crypto';
import { AppError } from '../errors.js';
import type { Row, TableDef } from '../tables.js';
import type { Rejection, Store, WriteWait } from '../store/store.js';
import { convertField } from './row-rules.js';

export interface BatchProblem {
  index: number;
  field?: string;
  reason: string;
}

const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

/** A rejected row's text for the log; JSON nested too deeply to stringify is not an error of ours. */
function rawJson(input: unknown): string {
  try {
    return JSON.stringify(input) ?? '';
  } catch {
    return '[a JSON value nested too deeply to log]';
  }
}

/** Checks one JSON row against its table: every field present, typed and valid. */
export function checkJsonRow(table: TableDef, input: unknown, index: number): { row: Row } | { problems: BatchProblem[] } {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    return { problems: [{ index, reason: 'a row must be a JSON object' }] };
  }
  const object = input as Record<string, unknown>;
  const problems: BatchProblem[] = [];
  const known = new Set(table.columns.map((c) => c.name));
  for (const key of Object.keys(object)) if (!known.has(key)) problems.push({ index, field: key, reason: 'unknown field' });
  const row: Row = [];
  for (const column of table.columns) {
    const value = object[column.name];
    if (value === undefined || value === null || value === '') {
      problems.push({ index, field: column.name, reason: 'is required' });
      continue;
    }
    const expected = column.type === 'integer' ? 'number' : 'string';
    if (typeof value !== expected || (column.type === 'integer' && !Number.isInteger(value))) {
      problems.push({ index, field: column.name, reason: column.type === 'integer' ? 'must be an integer' : 'must be a string' });
      continue;
    }
    // JSON can carry lone UTF-16 surrogates ("\ud800"), which no UTF-8 database stores verbatim.
    if (typeof value === 'string' && LONE_SURROGATE.test(value)) {
      problems.push({ index, field: column.name, reason: 'is not valid Unicode (a lone surrogate)' });
      continue;
    }
    const converted = convertField(column, String(value));
    if ('reason' in converted) problems.push({ index, field: column.name, reason: converted.reason });
    else row.push(converted.value);
  }
  return problems.length > 0 ? { problems } : { row };
}

/**
 * Inserts 1 to `maxRows` complete rows, all or nothing. Invalid rows → 400 ROWS_INVALID with
 * every problem, and the rejected rows logged like an upload's; a stored id → 409.
 */
export async function insertBatch(
  store: Store,
  table: TableDef,
  body: unknown,
  maxRows: number,
  wait?: WriteWait,
): Promise<{ table: string; inserted: number }> {
  if (!Array.isArray(body)) throw new AppError('VALIDATION_FAILED', 'The body must be a JSON array of row objects');
  if (body.length < 1 || body.length > maxRows) {
    throw new AppError('VALIDATION_FAILED', `A batch holds 1 to ${maxRows} rows; this one has ${body.length}`);
  }
  const rows: Row[] = [];
  const problems: BatchProblem[] = [];
  const rejects: Rejection[] = [];
  body.forEach((input: unknown, index) => {
    const checked = checkJsonRow(table, input, index);
    if ('row' in checked) {
      rows.push(checked.row);
      return;
    }
    problems.push(...checked.problems);
    rejects.push({
      line: index + 1,
      raw: rawJson(input),
      reason: checked.problems.map((p) => `${p.field ?? 'row'}: ${p.reason}`).join('; '),
    });
  });
  if (problems.length > 0) {
    const id = randomUUID();
    await store.saveUpload(
      {
        upload_id: id,
        table: table.name,
        source: 'batch',
        status: 'failed',
        received: body.length,
        inserted: 0,
        updated: 0,
        rejected: rejects.length,
        incomplete: 0,
        batch_size: body.length,
        strict: true,
        dry_run: false,
        on_conflict: 'reject',
        started_at: new Date().toISOString(),
        elapsed_ms: 0,
        message: 'batch rejected: invalid rows',
      },
      (async function* () {
        yield* rejects;
      })(),
    );
    throw new AppError(
      'ROWS_INVALID',
      `${rejects.length} of ${body.length} rows are invalid; nothing was inserted (log: /uploads/${id})`,
      problems.slice(0, 1000),
    );
  }
  return { table: table.name, inserted: await store.insertRows(table, rows, wait) };
}
