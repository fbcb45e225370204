-- Archive object versions to copy with S3 Batch Replication: no copy with their version id in
-- the replica (never replicated, FAILED, or lost there) and not in flight. Bucket, Key, VersionId.
SELECT {archive_bucket} AS bucket, a.key, a.version_id
FROM archive a
LEFT JOIN replica c ON c.key = a.key AND c.version_id = a.version_id AND NOT c.is_delete_marker
LEFT JOIN in_flight f ON f.key = a.key AND f.version_id = a.version_id
WHERE NOT a.is_delete_marker AND c.key IS NULL AND f.key IS NULL
  AND coalesce(a.replication_status, '') <> 'PENDING'
