-- Idempotency-Key (issue 12): the answer of a write, kept so a retry with the same key and the
-- same request gets it again instead of writing twice. scope is who asked (a hash of the API key,
-- or 'anon'); fingerprint a SHA-256 of method, path and query; body_digest a SHA-256 of the body.
-- On SQLite, one server process writes a database: a request still running is known to that
-- process alone (the writer lock may be held for a whole upload), so only answers are stored here
-- (status 'done'); in_progress is allowed for symmetry with PostgreSQL. Times are ISO 8601 UTC
-- text of fixed width (toISOString), so text order is time order.
CREATE TABLE idempotency_keys (
  scope TEXT NOT NULL,
  key TEXT NOT NULL,
  fingerprint TEXT NOT NULL,
  body_digest TEXT,
  status TEXT NOT NULL CHECK (status IN ('in_progress', 'done')),
  owner TEXT NOT NULL,
  locked_until TEXT NOT NULL,
  response_status INTEGER,
  response_type TEXT,
  response_body TEXT,
  created_at TEXT NOT NULL,
  expires_at TEXT NOT NULL,
  PRIMARY KEY (scope, key)
);

CREATE INDEX idempotency_keys_expires_idx ON idempotency_keys (expires_at);
