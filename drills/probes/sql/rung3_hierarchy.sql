-- Rung 3 (probes/hierarchy.check_hierarchy): studies whose series/instance counts differ,
-- the first 20 by study with the total count.
WITH per_study AS (
  SELECT study,
         count(DISTINCT CASE WHEN side = 'archive' THEN series END) AS a_series,
         sum(CASE WHEN side = 'archive' THEN 1 ELSE 0 END) AS a_instances,
         count(DISTINCT CASE WHEN side = 'replica' THEN series END) AS r_series,
         sum(CASE WHEN side = 'replica' THEN 1 ELSE 0 END) AS r_instances
  FROM current_keys WHERE study IS NOT NULL
  GROUP BY study
), differing AS (
  SELECT *, row_number() OVER (ORDER BY study) AS rn, count(*) OVER () AS total
  FROM per_study WHERE a_series <> r_series OR a_instances <> r_instances
)
SELECT study, a_series, a_instances, r_series, r_instances, total FROM differing WHERE rn <= 20 ORDER BY study
