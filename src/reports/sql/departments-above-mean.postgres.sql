-- Departments that hired more in one year (UTC) than the mean over every department of the
-- departments table (a department without hires counts as 0). A hire without a job counts.
-- The mean is exact (numeric); hired is cast to int (node-pg returns bigint sums as text).
-- Parameters: $1 year.
WITH hired AS (
  SELECT d.id AS id, d.department AS department, COALESCE(SUM(c.hires), 0)::int AS hired
  FROM departments AS d
  LEFT JOIN hire_counts AS c ON c.department_id = d.id AND c.year = $1
  GROUP BY d.id
)
SELECT id, department, hired
FROM hired
WHERE hired > (SELECT AVG(hired) FROM hired)
ORDER BY hired DESC, id
