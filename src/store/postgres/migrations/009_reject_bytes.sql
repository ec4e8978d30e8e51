-- A rejected line that holds a NUL byte, kept exactly. PostgreSQL's text cannot hold NUL (COPY
-- writes it as U+FFFD into raw), so such a line's UTF-8 bytes go here too and rejects.csv gives
-- them back as sent, as SQLite does. NULL for every other line: raw holds it exactly. (007 is
-- SQLite's instant rewrite, 008 the dropped indexes.)
ALTER TABLE upload_rejects ADD COLUMN raw_bytes BYTEA;
