-- Idempotency-Key (issue 12): the answer of a write, kept so a retry with the same key and the
-- same request gets it again instead of writing twice. scope is who asked (a hash of the API key,
-- or 'anon'); fingerprint a SHA-256 of method, path and query; body_digest a SHA-256 of the body,
-- known once the body has been read whole. An in_progress row belongs to the request holding
-- owner until locked_until (renewed while it runs); past that, a retry may take it over.
CREATE TABLE idempotency_keys (
  scope TEXT NOT NULL,
  key TEXT NOT NULL,
  fingerprint TEXT NOT NULL,
  body_digest TEXT,
  status TEXT NOT NULL CHECK (status IN ('in_progress', 'done')),
  owner TEXT NOT NULL,
  locked_until TIMESTAMPTZ NOT NULL,
  response_status INTEGER,
  response_type TEXT,
  response_body TEXT,
  created_at TIMESTAMPTZ NOT NULL,
  expires_at TIMESTAMPTZ NOT NULL,
  PRIMARY KEY (scope, key)
);

CREATE INDEX idempotency_keys_expires_idx ON idempotency_keys (expires_at);
