-- The report of every upload, and every rejected row with its line and reason.
CREATE TABLE uploads (
  id TEXT PRIMARY KEY,
  table_name TEXT NOT NULL,
  source TEXT NOT NULL,
  status TEXT NOT NULL,
  received INTEGER NOT NULL,
  inserted INTEGER NOT NULL,
  updated INTEGER NOT NULL,
  rejected INTEGER NOT NULL,
  incomplete INTEGER NOT NULL,
  batch_size INTEGER NOT NULL,
  strict INTEGER NOT NULL,
  dry_run INTEGER NOT NULL,
  on_conflict TEXT NOT NULL,
  started_at TEXT NOT NULL,
  elapsed_ms INTEGER NOT NULL,
  message TEXT
);

CREATE TABLE upload_rejects (
  upload_id TEXT NOT NULL REFERENCES uploads (id) ON DELETE CASCADE,
  line INTEGER NOT NULL,
  raw TEXT NOT NULL,
  reason TEXT NOT NULL
);

CREATE INDEX upload_rejects_upload_line_idx ON upload_rejects (upload_id, line);
