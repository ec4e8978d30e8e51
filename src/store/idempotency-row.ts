import type { IdempotencyRecord } from './store.js';

/** The columns of an `idempotency_keys` row that make its record, the same in both dialects. */
export interface IdempotencyRow {
  fingerprint: string;
  body_digest: string | null;
  status: 'in_progress' | 'done';
  response_status: number | null;
  response_type: string | null;
  response_body: string | null;
}

/** A key's record: its fingerprint, and the stored answer once the first request is done. */
export const toIdempotencyRecord = (row: IdempotencyRow): IdempotencyRecord => ({
  fingerprint: row.fingerprint,
  status: row.status,
  answer:
    row.status === 'done'
      ? {
          bodyDigest: row.body_digest ?? '',
          status: row.response_status ?? 0,
          contentType: row.response_type ?? '',
          body: row.response_body ?? '',
        }
      : undefined,
});
