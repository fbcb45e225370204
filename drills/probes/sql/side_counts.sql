-- Rung 1 counts per side (probes/inventory.side_counts).
SELECT side,
       sum(CASE WHEN is_latest AND NOT is_delete_marker THEN 1 ELSE 0 END) AS instances,
       sum(CASE WHEN is_latest AND NOT is_delete_marker THEN size ELSE 0 END) AS bytes,
       sum(CASE WHEN NOT is_delete_marker THEN 1 ELSE 0 END) AS versions,
       sum(CASE WHEN NOT is_delete_marker THEN size ELSE 0 END) AS version_bytes,
       sum(CASE WHEN NOT is_latest AND NOT is_delete_marker THEN 1 ELSE 0 END) AS noncurrent_versions,
       sum(CASE WHEN is_delete_marker THEN 1 ELSE 0 END) AS delete_markers,
       count(*) AS rows_read
FROM (SELECT 'archive' AS side, * FROM archive UNION ALL SELECT 'replica' AS side, * FROM replica) s
GROUP BY side
