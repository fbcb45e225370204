-- Rung 1 (probes/inventory.check): kind, label per defect.
SELECT CASE
         WHEN r.key IS NULL THEN (CASE WHEN a.is_delete_marker THEN 'missing-marker' ELSE 'missing' END)
         WHEN r.is_delete_marker <> a.is_delete_marker THEN 'missing'
         WHEN NOT a.is_delete_marker AND r.size <> a.size THEN 'size-mismatch'
       END AS kind,
       a.key || '@' || a.version_id AS label
FROM archive a
LEFT JOIN replica r ON r.key = a.key AND r.version_id = a.version_id
LEFT JOIN in_flight f ON f.key = a.key AND f.version_id = a.version_id
WHERE f.key IS NULL
UNION ALL
SELECT 'extra' AS kind, r.key || '@' || r.version_id AS label
FROM replica r
LEFT JOIN archive a ON a.key = r.key AND a.version_id = r.version_id
WHERE a.key IS NULL
