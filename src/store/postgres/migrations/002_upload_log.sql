-- The report of every upload, and every rejected row with its line and reason.
CREATE TABLE uploads (
  id TEXT PRIMARY KEY,
  table_name TEXT NOT NULL,
  source TEXT NOT NULL,
  status TEXT NOT NULL,
  received BIGINT NOT NULL,
  inserted BIGINT NOT NULL,
  updated BIGINT NOT NULL,
  rejected BIGINT NOT NULL,
  incomplete BIGINT NOT NULL,
  batch_size INTEGER NOT NULL,
  strict BOOLEAN NOT NULL,
  dry_run BOOLEAN NOT NULL,
  on_conflict TEXT NOT NULL,
  started_at TEXT NOT NULL,
  elapsed_ms BIGINT NOT NULL,
  message TEXT
);

-- seq keeps the order rows were logged in among equal lines (SQLite's rowid).
CREATE TABLE upload_rejects (
  upload_id TEXT NOT NULL REFERENCES uploads (id) ON DELETE CASCADE,
  line BIGINT NOT NULL,
  raw TEXT NOT NULL,
  reason TEXT NOT NULL,
  seq BIGINT GENERATED ALWAYS AS IDENTITY
);

CREATE INDEX upload_rejects_upload_line_idx ON upload_rejects (upload_id, line, seq);
