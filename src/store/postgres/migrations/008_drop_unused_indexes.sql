-- The three secondary indexes of hired_employees (instant, department, job) came with migration 001
-- for reports that scanned the table; the reports read hire_counts since migration 003, and every
-- other query on hired_employees (uploads, batches, restores, keyset-paged exports) goes by id, its
-- primary key. test/store/indexes.test.ts shows each of those plans. Unused, the indexes only cost:
-- a page miss per row of a load once the instant index outgrew the cache, and a rebuild after a
-- big load. src/store/ddl.ts declares the secondary indexes, each with the query that needs it.
DROP INDEX IF EXISTS "hired_employees_datetime_idx";

DROP INDEX IF EXISTS "hired_employees_department_id_idx";

DROP INDEX IF EXISTS "hired_employees_job_id_idx";
