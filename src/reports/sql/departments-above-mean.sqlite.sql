-- Departments that hired more in one year (UTC) than the mean over every department of the
-- departments table (a department without hires counts as 0). A hire without a job counts.
-- Parameters: year.
WITH hired AS (
  SELECT d.id AS id, d.department AS department, COALESCE(SUM(c.hires), 0) AS hired
  FROM departments AS d
  LEFT JOIN hire_counts AS c ON c.department_id = d.id AND c.year = ?
  GROUP BY d.id
)
SELECT id, department, hired
FROM hired
WHERE hired > (SELECT AVG(hired) FROM hired)
ORDER BY hired DESC, id
