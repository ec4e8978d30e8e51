-- Import jobs (issue 13): the state machine queued → running → committed | dry_run | failed |
-- cancelled, with a lease any instance may take over once it expires (claimed with
-- FOR UPDATE SKIP LOCKED). seq orders the queue and the newest-first listing.
CREATE TABLE import_jobs (
  seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  table_name TEXT NOT NULL,
  source TEXT NOT NULL,
  options JSONB NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('queued', 'running', 'committed', 'dry_run', 'failed', 'cancelled')),
  bytes_read BIGINT NOT NULL DEFAULT 0,
  bytes_total BIGINT,
  records BIGINT NOT NULL DEFAULT 0,
  upload_id TEXT,
  message TEXT,
  attempts INTEGER NOT NULL DEFAULT 0,
  lease_owner TEXT,
  lease_expires_at TIMESTAMPTZ,
  cancel_requested BOOLEAN NOT NULL DEFAULT FALSE,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  started_at TIMESTAMPTZ,
  finished_at TIMESTAMPTZ
);

CREATE INDEX import_jobs_status_idx ON import_jobs (status, seq);
