-- Rung 3 counts: studies, series and instances per side.
SELECT side, count(DISTINCT study) AS studies, count(DISTINCT study || '/' || series) AS series,
       count(*) AS instances
FROM current_keys WHERE study IS NOT NULL
GROUP BY side
