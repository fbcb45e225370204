-- Current archive object versions under the scope, not in flight: the manifest of rung 5's
-- S3 Batch Operations compute-checksum jobs (drills/probes/batch_checksums.py). Key, VersionId.
SELECT a.key, a.version_id
FROM archive a
WHERE a.is_latest AND NOT a.is_delete_marker
  AND a.key NOT IN (SELECT key FROM in_flight)
ORDER BY a.key, a.version_id
