-- Rung 5 at scale (DuckDB only: the study index is not in S3, so Athena cannot run it):
-- each wanted version against the compute-checksum completion reports of both sides and the
-- study index (drills/probes/checksum_compare.py loads the four tables, joined on ``fp``, the
-- 128-bit MD5 of version id and key). One row per wanted version: what each side's job computed
-- (NULL when it reported none) and its error code, whether the index holds the version and its
-- ChecksumSHA256.
SELECT w.key, w.version_id,
       CASE WHEN w.version_id = '' THEN w.key ELSE w.key || '@' || w.version_id END AS label,
       a.checksum AS a, r.checksum AS r, i.checksum AS ix, i.fp IS NOT NULL AS indexed,
       CASE WHEN a.fp IS NULL THEN 'NotInReport'
            WHEN a.checksum IS NULL THEN coalesce(nullif(a.error_code, ''),
                 CASE WHEN a.status = 'succeeded' THEN 'NoChecksumInResult' ELSE 'TaskFailed' END) END AS a_error,
       CASE WHEN r.fp IS NULL THEN 'NotInReport'
            WHEN r.checksum IS NULL THEN coalesce(nullif(r.error_code, ''),
                 CASE WHEN r.status = 'succeeded' THEN 'NoChecksumInResult' ELSE 'TaskFailed' END) END AS r_error
FROM wanted w
LEFT JOIN report_archive a ON a.fp = w.fp
LEFT JOIN report_replica r ON r.fp = w.fp
LEFT JOIN index_items i ON i.fp = w.fp
