-- Every department of the departments table with its hires in one year (UTC), 0 included;
-- the numbers departments-above-mean compares with their mean. A hire without a job counts.
-- Ordered by hired descending, then id. hired is cast to int (node-pg returns bigint as text).
-- Parameters: $1 year.
SELECT d.id AS id, d.department AS department, COALESCE(SUM(c.hires), 0)::int AS hired
FROM departments AS d
LEFT JOIN hire_counts AS c ON c.department_id = d.id AND c.year = $1
GROUP BY d.id
ORDER BY hired DESC, d.id
