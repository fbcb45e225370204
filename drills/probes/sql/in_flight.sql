-- Archive versions (objects and delete markers) absent from the replica and younger than the
-- replication threshold: still allowed to be on their way (observe.Observation.in_flight).
SELECT a.key, a.version_id
FROM archive a
LEFT JOIN replica r ON r.key = a.key AND r.version_id = a.version_id
WHERE r.key IS NULL AND a.last_modified > {cutoff}
