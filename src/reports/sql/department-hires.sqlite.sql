-- Every department of the departments table with its hires in one year (UTC), 0 included;
-- the numbers departments-above-mean compares with their mean. A hire without a job counts.
-- Ordered by hired descending, then id. Parameters: year.
SELECT d.id AS id, d.department AS department, COALESCE(SUM(c.hires), 0) AS hired
FROM departments AS d
LEFT JOIN hire_counts AS c ON c.department_id = d.id AND c.year = ?
GROUP BY d.id
ORDER BY hired DESC, d.id
