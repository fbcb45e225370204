-- Rung 5 at scale (DuckDB only: the study index is not in S3, so Athena cannot run it):
-- each wanted version against the compute-checksum completion reports of both sides and the
-- study index, joined on ``fp``, the 128-bit MD5 of version id and key. ``with_archive`` is
-- the wanted versions already joined with the index and the archive's report, one join per
-- statement (drills/probes/checksum_compare.py: several hash tables in one pipeline run out of
-- a small memory limit). One row per wanted version: what each side's job computed (NULL when
-- it reported none) and its error code, whether the index holds the version and its
-- ChecksumSHA256.
SELECT w.key, w.version_id,
       CASE WHEN w.version_id = '' THEN w.key ELSE w.key || '@' || w.version_id END AS label,
       w.a_checksum AS a, r.checksum AS r, w.ix, w.indexed,
       CASE WHEN w.a_fp IS NULL THEN 'NotInReport'
            WHEN w.a_checksum IS NULL THEN coalesce(nullif(w.a_code, ''),
                 CASE WHEN w.a_status = 'succeeded' THEN 'NoChecksumInResult' ELSE 'TaskFailed' END) END AS a_error,
       CASE WHEN r.fp IS NULL THEN 'NotInReport'
            WHEN r.checksum IS NULL THEN coalesce(nullif(r.error_code, ''),
                 CASE WHEN r.status = 'succeeded' THEN 'NoChecksumInResult' ELSE 'TaskFailed' END) END AS r_error
FROM with_archive w
LEFT JOIN report_replica r ON r.fp = w.fp
