-- Hires per (year, quarter, department, job), kept exact by triggers inside every write's own
-- transaction, so the reports read a few hundred rows instead of scanning hired_employees.
-- A hire without a job counts for its department under job_id 0 (ids are positive).
CREATE TABLE hire_counts (
  year INTEGER NOT NULL,
  quarter INTEGER NOT NULL,
  department_id INTEGER NOT NULL,
  job_id INTEGER NOT NULL,
  hires INTEGER NOT NULL,
  PRIMARY KEY (year, quarter, department_id, job_id)
) WITHOUT ROWID;

-- split
CREATE TRIGGER hire_counts_after_insert AFTER INSERT ON hired_employees
WHEN NEW.datetime IS NOT NULL AND NEW.department_id IS NOT NULL
BEGIN
  INSERT INTO hire_counts (year, quarter, department_id, job_id, hires)
  VALUES (CAST(substr(NEW.datetime, 1, 4) AS INTEGER), (CAST(substr(NEW.datetime, 6, 2) AS INTEGER) + 2) / 3,
          NEW.department_id, COALESCE(NEW.job_id, 0), 1)
  ON CONFLICT (year, quarter, department_id, job_id) DO UPDATE SET hires = hires + 1;
END;

-- split
CREATE TRIGGER hire_counts_after_delete AFTER DELETE ON hired_employees
WHEN OLD.datetime IS NOT NULL AND OLD.department_id IS NOT NULL
BEGIN
  UPDATE hire_counts SET hires = hires - 1
  WHERE year = CAST(substr(OLD.datetime, 1, 4) AS INTEGER)
    AND quarter = (CAST(substr(OLD.datetime, 6, 2) AS INTEGER) + 2) / 3
    AND department_id = OLD.department_id AND job_id = COALESCE(OLD.job_id, 0);
END;

-- split
CREATE TRIGGER hire_counts_after_update AFTER UPDATE OF datetime, department_id, job_id ON hired_employees
BEGIN
  UPDATE hire_counts SET hires = hires - 1
  WHERE OLD.datetime IS NOT NULL AND OLD.department_id IS NOT NULL
    AND year = CAST(substr(OLD.datetime, 1, 4) AS INTEGER)
    AND quarter = (CAST(substr(OLD.datetime, 6, 2) AS INTEGER) + 2) / 3
    AND department_id = OLD.department_id AND job_id = COALESCE(OLD.job_id, 0);
  INSERT INTO hire_counts (year, quarter, department_id, job_id, hires)
  SELECT CAST(substr(NEW.datetime, 1, 4) AS INTEGER), (CAST(substr(NEW.datetime, 6, 2) AS INTEGER) + 2) / 3,
         NEW.department_id, COALESCE(NEW.job_id, 0), 1
  WHERE NEW.datetime IS NOT NULL AND NEW.department_id IS NOT NULL
  ON CONFLICT (year, quarter, department_id, job_id) DO UPDATE SET hires = hires + 1;
END;
