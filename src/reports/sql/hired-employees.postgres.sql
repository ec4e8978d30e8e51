-- Hires per department and job in one year (UTC), by quarter; only pairs with a hire.
-- Reads the per-quarter counts the triggers keep, not hired_employees.
-- Same answer as the SQLite file, byte for byte: names ordered by code point (COLLATE "C"),
-- NULL names first (SQLite's order), counts cast to int (node-pg returns bigint as text).
-- Parameters: $1 year.
SELECT d.department AS department,
       j.job AS job,
       SUM(CASE WHEN c.quarter = 1 THEN c.hires ELSE 0 END)::int AS "Q1",
       SUM(CASE WHEN c.quarter = 2 THEN c.hires ELSE 0 END)::int AS "Q2",
       SUM(CASE WHEN c.quarter = 3 THEN c.hires ELSE 0 END)::int AS "Q3",
       SUM(CASE WHEN c.quarter = 4 THEN c.hires ELSE 0 END)::int AS "Q4"
FROM hire_counts AS c
JOIN departments AS d ON d.id = c.department_id
JOIN jobs AS j ON j.id = c.job_id
WHERE c.year = $1
GROUP BY d.id, j.id
HAVING SUM(c.hires) > 0
ORDER BY d.department COLLATE "C" NULLS FIRST, j.job COLLATE "C" NULLS FIRST, d.id, j.id
