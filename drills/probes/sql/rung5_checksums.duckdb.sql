-- Rung 5 at scale (DuckDB only: the study index is not in S3, so Athena cannot run it):
-- each wanted version against the compute-checksum completion reports of both sides and the
-- study index, joined on ``fp``, the 128-bit MD5 of version id and key. ``with_archive`` is
-- the wanted versions already joined with the index and the archive's report, one join per
-- statement (drills/probes/checksum_compare.py: several hash tables in one pipeline run out of
-- a small memory limit). One row per wanted version, fixed-size columns only: the fingerprint
-- of what each side's job computed (NULL when it reported none) and its error id (0: not in
-- the report; ``errors`` names the others), whether the index holds the version and the
-- fingerprint of its ChecksumSHA256. Labels are read from ``wanted`` for the first few only.
SELECT w.fp, w.indexed, w.ix, w.a_cfp AS a, r.cfp AS r,
       CASE WHEN NOT w.a_in THEN 0 ELSE w.a_err END AS a_err,
       CASE WHEN r.fp IS NULL THEN 0 ELSE r.err END AS r_err
FROM with_archive w
LEFT JOIN report_replica r ON r.fp = w.fp
