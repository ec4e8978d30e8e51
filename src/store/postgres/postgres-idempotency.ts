import type pg from 'pg';
import { AppError } from '../../errors.js';
import { toIdempotencyRecord, type IdempotencyRow } from '../idempotency-row.js';
import type { IdempotencyAnswer, IdempotencyRecord, IdempotencyRef, IdempotencyStore, IdempotentCommit } from '../store.js';
import { mapPgError } from './errors.js';

interface KeyRow extends IdempotencyRow {
  owner: string;
}

/**
 * Takes a key that is free, expired, or held by a request whose lease has run out (its instance
 * died): every instance sees the same row, so a repeat sent to another instance is told the key is
 * in progress, or gets the answer.
 */
const CLAIM = `INSERT INTO idempotency_keys AS k (scope, key, fingerprint, status, owner, locked_until, created_at, expires_at)
  VALUES ($1, $2, $3, 'in_progress', $4, now() + make_interval(secs => $5 / 1000.0), now(), now() + make_interval(secs => $5 / 1000.0))
  ON CONFLICT (scope, key) DO UPDATE SET fingerprint = EXCLUDED.fingerprint, body_digest = NULL, status = 'in_progress',
    owner = EXCLUDED.owner, locked_until = EXCLUDED.locked_until, response_status = NULL, response_type = NULL,
    response_body = NULL, created_at = EXCLUDED.created_at, expires_at = EXCLUDED.expires_at
  WHERE (k.status = 'done' AND k.expires_at <= now()) OR (k.status = 'in_progress' AND k.locked_until <= now())
  RETURNING owner`;

const SELECT = `SELECT owner, fingerprint, body_digest, status, response_status, response_type, response_body
  FROM idempotency_keys WHERE scope = $1 AND key = $2`;

const COMPLETE = `UPDATE idempotency_keys SET status = 'done', body_digest = $4, response_status = $5, response_type = $6,
    response_body = $7, expires_at = now() + make_interval(secs => $8 / 1000.0)
  WHERE scope = $1 AND key = $2 AND owner = $3`;

const answerArgs = (ref: IdempotencyRef, answer: IdempotencyAnswer, ttlMs: number): unknown[] => [
  ref.scope,
  ref.key,
  ref.owner,
  answer.bodyDigest,
  answer.status,
  answer.contentType,
  answer.body,
  ttlMs,
];

/** Idempotency keys on PostgreSQL: claims, leases and answers are rows every instance shares. */
export class PostgresIdempotency implements IdempotencyStore {
  constructor(private readonly pool: pg.Pool) {}

  async claim(
    ref: IdempotencyRef,
    fingerprint: string,
    leaseMs: number,
  ): Promise<{ claimed: true } | { claimed: false; record: IdempotencyRecord }> {
    try {
      // Twice at most: a row deleted (released, purged) between the insert and the read is free again.
      for (let attempt = 0; ; attempt++) {
        const taken = await this.pool.query<{ owner: string }>(CLAIM, [ref.scope, ref.key, fingerprint, ref.owner, leaseMs]);
        if (taken.rows[0]?.owner === ref.owner) return { claimed: true };
        const { rows } = await this.pool.query<KeyRow>(SELECT, [ref.scope, ref.key]);
        const row = rows[0];
        if (row !== undefined) return { claimed: false, record: toIdempotencyRecord(row) };
        if (attempt > 0) throw new AppError('IDEMPOTENCY_IN_PROGRESS', undefined, undefined, 1);
      }
    } catch (error) {
      throw mapPgError(error);
    }
  }

  async renew(ref: IdempotencyRef, leaseMs: number): Promise<boolean> {
    const result = await this.pool.query(
      `UPDATE idempotency_keys SET locked_until = now() + make_interval(secs => $4 / 1000.0)
       WHERE scope = $1 AND key = $2 AND owner = $3 AND status = 'in_progress'`,
      [ref.scope, ref.key, ref.owner, leaseMs],
    );
    return (result.rowCount ?? 0) > 0;
  }

  async complete(ref: IdempotencyRef, answer: IdempotencyAnswer, ttlMs: number): Promise<void> {
    await this.pool.query(COMPLETE, answerArgs(ref, answer, ttlMs)).catch((error: unknown) => {
      throw mapPgError(error);
    });
  }

  async release(ref: IdempotencyRef): Promise<void> {
    await this.pool
      .query(`DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2 AND owner = $3 AND status = 'in_progress'`, [
        ref.scope,
        ref.key,
        ref.owner,
      ])
      .catch((error: unknown) => {
        throw mapPgError(error);
      });
  }

  /** Nothing to drop: the row is the answer. */
  forget(): void {}

  async purgeExpired(now = new Date()): Promise<number> {
    const result = await this.pool
      .query(`DELETE FROM idempotency_keys WHERE expires_at <= $1 AND (status = 'done' OR locked_until <= $1)`, [now])
      .catch((error: unknown) => {
        throw mapPgError(error);
      });
    return result.rowCount ?? 0;
  }
}

/**
 * A batch's answer, on the batch's own connection and transaction. A key no longer this
 * request's (its lease ran out and a retry took it) rolls the batch back: the retry is the one
 * executing it now.
 */
export async function completePostgresKey(client: pg.PoolClient, commit: IdempotentCommit, written: number): Promise<void> {
  const result = await client.query(COMPLETE, answerArgs(commit.ref, commit.answer(written), commit.ttlMs));
  if ((result.rowCount ?? 0) === 0)
    throw new AppError('IDEMPOTENCY_IN_PROGRESS', 'Another request took this Idempotency-Key over; retry later', undefined, 1);
}
