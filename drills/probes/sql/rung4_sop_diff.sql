-- Rung 4 (probes/hierarchy.check_sop_set): SOP Instance UIDs on one side only, per study and
-- series; the first 20 UIDs of the first 20 series per direction, with the totals.
-- (current_keys is joined directly, not through CTEs read twice: engines keep those in memory.)
WITH diff AS (
  SELECT 'missing' AS direction, a.study, a.series, a.sop FROM current_keys a
  LEFT JOIN current_keys r ON r.side = 'replica' AND r.study = a.study AND r.series = a.series AND r.sop = a.sop
  WHERE a.side = 'archive' AND a.study IS NOT NULL AND r.sop IS NULL
  UNION ALL
  SELECT 'extra' AS direction, r.study, r.series, r.sop FROM current_keys r
  LEFT JOIN current_keys a ON a.side = 'archive' AND a.study = r.study AND a.series = r.series AND a.sop = r.sop
  WHERE r.side = 'replica' AND r.study IS NOT NULL AND a.sop IS NULL
), ranked AS (
  SELECT direction, study, series, sop,
         count(*) OVER (PARTITION BY direction, study, series) AS n_group,
         row_number() OVER (PARTITION BY direction, study, series ORDER BY sop) AS rn,
         dense_rank() OVER (PARTITION BY direction ORDER BY study, series) AS group_rank,
         count(*) OVER (PARTITION BY direction) AS total
  FROM diff
)
SELECT direction, study, series, sop, n_group, total FROM ranked WHERE rn <= 20 AND group_rank <= 20
ORDER BY direction, study, series, sop
