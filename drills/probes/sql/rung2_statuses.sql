-- Rung 2 counts: replication status of the archive's object versions.
SELECT coalesce(nullif(replication_status, ''), 'NONE') AS status, count(*) AS n
FROM archive WHERE NOT is_delete_marker
GROUP BY coalesce(nullif(replication_status, ''), 'NONE')
