-- Rung 2 (probes/replication_state.check): kind, label per defect. The replica copy of an
-- archive version is the replica version with the same version id (as a HEAD by version id).
-- One pass over the archive versions, each looked at twice (t.k: 1 its own status, 2 its
-- copy), instead of a CTE read twice: engines keep a CTE read twice in memory (DuckDB does).
SELECT CASE WHEN t.k = 1 THEN
         CASE WHEN status = 'FAILED' THEN 'failed'
              WHEN status = 'PENDING' AND last_modified <= {cutoff} THEN 'pending-over-threshold'
              WHEN status = 'NONE' THEN 'status-absent' END
       ELSE
         CASE WHEN NOT has_copy AND status = 'COMPLETED' THEN 'completed-without-copy'
              WHEN NOT has_copy AND status <> 'PENDING' AND NOT in_flight THEN 'no-copy'
              WHEN has_copy AND coalesce(copy_status, '') <> 'REPLICA' THEN 'not-marked' END
       END AS kind, label
FROM (
  SELECT a.key || '@' || a.version_id AS label,
         coalesce(nullif(a.replication_status, ''), 'NONE') AS status,
         a.last_modified,
         c.key IS NOT NULL AS has_copy,
         c.replication_status AS copy_status,
         f.key IS NOT NULL AS in_flight
  FROM archive a
  LEFT JOIN replica c ON c.key = a.key AND c.version_id = a.version_id AND NOT c.is_delete_marker
  LEFT JOIN in_flight f ON f.key = a.key AND f.version_id = a.version_id
  WHERE NOT a.is_delete_marker
) src
CROSS JOIN (VALUES (1), (2)) AS t (k)
UNION ALL
SELECT 'written-directly' AS kind, r.key || '@' || r.version_id AS label
FROM replica r
LEFT JOIN archive a ON a.key = r.key AND a.version_id = r.version_id AND NOT a.is_delete_marker
WHERE NOT r.is_delete_marker AND coalesce(r.replication_status, '') <> 'REPLICA' AND a.key IS NULL
