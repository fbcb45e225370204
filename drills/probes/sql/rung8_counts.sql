-- Rung 8 counts over the versions present on both sides.
SELECT count(*) AS compared,
       sum(CASE WHEN nullif(a.lock_mode, '') IS NOT NULL THEN 1 ELSE 0 END) AS locked,
       sum(CASE WHEN a.legal_hold = 'ON' THEN 1 ELSE 0 END) AS holds,
       sum(CASE WHEN a.retain_until IS NOT NULL AND a.retain_until <= {now} THEN 1 ELSE 0 END) AS expired
FROM archive a
JOIN replica c ON c.key = a.key AND c.version_id = a.version_id AND NOT c.is_delete_marker
WHERE NOT a.is_delete_marker
