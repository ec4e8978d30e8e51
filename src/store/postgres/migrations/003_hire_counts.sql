-- Hires per (year, quarter, department, job), kept exact by triggers inside every write's own
-- transaction, so the reports read a few hundred rows instead of scanning hired_employees.
-- A hire without a job counts for its department under job_id 0 (ids are positive).
-- The triggers are per statement, over transition tables: a load of a million rows costs one
-- aggregate, not a million row triggers. Years and quarters are UTC. Counts may reach 0; the
-- reports only read counts above 0.
CREATE TABLE hire_counts (
  year INTEGER NOT NULL,
  quarter INTEGER NOT NULL,
  department_id BIGINT NOT NULL,
  job_id BIGINT NOT NULL,
  hires BIGINT NOT NULL,
  PRIMARY KEY (year, quarter, department_id, job_id)
);

-- split
CREATE FUNCTION hire_counts_after_insert() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
  INSERT INTO hire_counts AS c (year, quarter, department_id, job_id, hires)
  SELECT EXTRACT(YEAR FROM n.datetime AT TIME ZONE 'UTC')::int, EXTRACT(QUARTER FROM n.datetime AT TIME ZONE 'UTC')::int,
         n.department_id, COALESCE(n.job_id, 0), count(*)
  FROM new_rows AS n
  WHERE n.datetime IS NOT NULL AND n.department_id IS NOT NULL
  GROUP BY 1, 2, 3, 4
  -- One order for every writer, so two transactions never lock the same counts crosswise.
  ORDER BY 1, 2, 3, 4
  ON CONFLICT (year, quarter, department_id, job_id) DO UPDATE SET hires = c.hires + EXCLUDED.hires;
  RETURN NULL;
END
$$;

-- split
CREATE FUNCTION hire_counts_after_delete() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
  UPDATE hire_counts AS c SET hires = c.hires - o.hires
  FROM (
    SELECT EXTRACT(YEAR FROM o.datetime AT TIME ZONE 'UTC')::int AS year, EXTRACT(QUARTER FROM o.datetime AT TIME ZONE 'UTC')::int AS quarter,
           o.department_id, COALESCE(o.job_id, 0) AS job_id, count(*) AS hires
    FROM old_rows AS o
    WHERE o.datetime IS NOT NULL AND o.department_id IS NOT NULL
    GROUP BY 1, 2, 3, 4
  ) AS o
  WHERE c.year = o.year AND c.quarter = o.quarter AND c.department_id = o.department_id AND c.job_id = o.job_id;
  RETURN NULL;
END
$$;

-- split
CREATE FUNCTION hire_counts_after_update() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
  -- The net change per count: minus the old rows, plus the new ones.
  INSERT INTO hire_counts AS c (year, quarter, department_id, job_id, hires)
  SELECT year, quarter, department_id, job_id, sum(delta)
  FROM (
    SELECT EXTRACT(YEAR FROM o.datetime AT TIME ZONE 'UTC')::int AS year, EXTRACT(QUARTER FROM o.datetime AT TIME ZONE 'UTC')::int AS quarter,
           o.department_id, COALESCE(o.job_id, 0) AS job_id, -1 AS delta
    FROM old_rows AS o
    WHERE o.datetime IS NOT NULL AND o.department_id IS NOT NULL
    UNION ALL
    SELECT EXTRACT(YEAR FROM n.datetime AT TIME ZONE 'UTC')::int, EXTRACT(QUARTER FROM n.datetime AT TIME ZONE 'UTC')::int,
           n.department_id, COALESCE(n.job_id, 0), 1
    FROM new_rows AS n
    WHERE n.datetime IS NOT NULL AND n.department_id IS NOT NULL
  ) AS d
  GROUP BY 1, 2, 3, 4
  HAVING sum(delta) <> 0
  ORDER BY 1, 2, 3, 4
  ON CONFLICT (year, quarter, department_id, job_id) DO UPDATE SET hires = c.hires + EXCLUDED.hires;
  RETURN NULL;
END
$$;

-- split
CREATE TRIGGER hire_counts_after_insert AFTER INSERT ON hired_employees
REFERENCING NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION hire_counts_after_insert();

CREATE TRIGGER hire_counts_after_delete AFTER DELETE ON hired_employees
REFERENCING OLD TABLE AS old_rows
FOR EACH STATEMENT EXECUTE FUNCTION hire_counts_after_delete();

CREATE TRIGGER hire_counts_after_update AFTER UPDATE ON hired_employees
REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION hire_counts_after_update();
