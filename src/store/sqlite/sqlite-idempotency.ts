import type Database from 'better-sqlite3';
import { toIdempotencyRecord, type IdempotencyRow } from '../idempotency-row.js';
import type { IdempotencyAnswer, IdempotencyRecord, IdempotencyRef, IdempotencyStore, IdempotentCommit } from '../store.js';

interface KeyRow extends IdempotencyRow {
  expires_at: string;
}

const SELECT = `SELECT fingerprint, body_digest, status, response_status, response_type, response_body, expires_at
  FROM idempotency_keys WHERE scope = ? AND key = ?`;

const UPSERT_DONE = `INSERT INTO idempotency_keys
  (scope, key, fingerprint, body_digest, status, owner, locked_until, response_status, response_type, response_body, created_at, expires_at)
  VALUES (@scope, @key, @fingerprint, @body_digest, 'done', @owner, @now, @status, @type, @body, @now, @expires)
  ON CONFLICT (scope, key) DO UPDATE SET fingerprint = excluded.fingerprint, body_digest = excluded.body_digest, status = 'done',
    owner = excluded.owner, locked_until = excluded.locked_until, response_status = excluded.response_status,
    response_type = excluded.response_type, response_body = excluded.response_body, created_at = excluded.created_at,
    expires_at = excluded.expires_at`;

const slot = (ref: Pick<IdempotencyRef, 'scope' | 'key'>): string => `${ref.scope}\u0000${ref.key}`;

/**
 * Idempotency keys on SQLite. One server process writes a database, and its writer may be held
 * by an upload for minutes: a key being executed is therefore held in this process's memory (a
 * repeat meanwhile is told at once, without waiting for the writer), and only final answers are
 * written, under the writer turn. A crash forgets the keys in flight, as it rolls back their work.
 */
export class SqliteIdempotency implements IdempotencyStore {
  /** Keys being executed by this process: slot → owner and fingerprint. */
  private readonly running = new Map<string, { owner: string; fingerprint: string }>();

  constructor(
    private readonly reader: Database.Database,
    private readonly writer: Database.Database,
    /** Runs `fn` in a write transaction under the store's writer turn. */
    private readonly write: (fn: () => void) => Promise<void>,
  ) {}

  async claim(ref: IdempotencyRef, fingerprint: string): Promise<{ claimed: true } | { claimed: false; record: IdempotencyRecord }> {
    const held = this.running.get(slot(ref));
    if (held !== undefined) return { claimed: false, record: { fingerprint: held.fingerprint, status: 'in_progress' } };
    const row = this.reader.prepare(SELECT).get(ref.scope, ref.key) as KeyRow | undefined;
    // An in_progress row can only be a crashed process's (this one writes none): taken over.
    if (row !== undefined && row.status === 'done' && row.expires_at > new Date().toISOString()) {
      return { claimed: false, record: toIdempotencyRecord(row) };
    }
    this.running.set(slot(ref), { owner: ref.owner, fingerprint });
    return { claimed: true };
  }

  async renew(ref: IdempotencyRef): Promise<boolean> {
    return this.running.get(slot(ref))?.owner === ref.owner;
  }

  async complete(ref: IdempotencyRef, answer: IdempotencyAnswer, ttlMs: number): Promise<void> {
    const held = this.running.get(slot(ref));
    if (held?.owner !== ref.owner) return;
    try {
      await this.write(() => completeSqliteKey(this.writer, ref, held.fingerprint, answer, ttlMs));
    } finally {
      this.running.delete(slot(ref));
    }
  }

  /** The answer of a batch, in the batch's own transaction (see WriteWait.idempotency). */
  completeInTransaction(commit: IdempotentCommit, written: number): void {
    const held = this.running.get(slot(commit.ref));
    if (held?.owner !== commit.ref.owner) return;
    completeSqliteKey(this.writer, commit.ref, held.fingerprint, commit.answer(written), commit.ttlMs);
  }

  /** Nothing was written for a key in flight: letting go of it is forgetting it. */
  async release(ref: IdempotencyRef): Promise<void> {
    this.forget(ref);
  }

  forget(ref: IdempotencyRef): void {
    if (this.running.get(slot(ref))?.owner === ref.owner) this.running.delete(slot(ref));
  }

  async purgeExpired(now = new Date()): Promise<number> {
    let purged = 0;
    await this.write(() => {
      purged = this.writer.prepare('DELETE FROM idempotency_keys WHERE expires_at <= ?').run(now.toISOString()).changes;
    });
    return purged;
  }
}

function completeSqliteKey(
  db: Database.Database,
  ref: IdempotencyRef,
  fingerprint: string,
  answer: IdempotencyAnswer,
  ttlMs: number,
): void {
  const now = new Date();
  db.prepare(UPSERT_DONE).run({
    scope: ref.scope,
    key: ref.key,
    fingerprint,
    body_digest: answer.bodyDigest,
    owner: ref.owner,
    now: now.toISOString(),
    status: answer.status,
    type: answer.contentType,
    body: answer.body,
    expires: new Date(now.getTime() + ttlMs).toISOString(),
  });
}
