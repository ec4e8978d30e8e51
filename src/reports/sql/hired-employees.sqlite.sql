-- Hires per department and job in one year (UTC), by quarter; only pairs with a hire.
-- Reads the per-quarter counts the triggers keep, not hired_employees.
-- Parameters: year.
SELECT d.department AS department,
       j.job AS job,
       SUM(CASE WHEN c.quarter = 1 THEN c.hires ELSE 0 END) AS Q1,
       SUM(CASE WHEN c.quarter = 2 THEN c.hires ELSE 0 END) AS Q2,
       SUM(CASE WHEN c.quarter = 3 THEN c.hires ELSE 0 END) AS Q3,
       SUM(CASE WHEN c.quarter = 4 THEN c.hires ELSE 0 END) AS Q4
FROM hire_counts AS c
JOIN departments AS d ON d.id = c.department_id
JOIN jobs AS j ON j.id = c.job_id
WHERE c.year = ?
GROUP BY d.id, j.id
HAVING SUM(c.hires) > 0
ORDER BY d.department, j.job, d.id, j.id
