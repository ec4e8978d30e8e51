-- Years with at least one counted hire, most recent first.
SELECT year FROM hire_counts GROUP BY year HAVING SUM(hires) > 0 ORDER BY year DESC
