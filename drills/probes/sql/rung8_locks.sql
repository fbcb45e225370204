-- Rung 8 (probes/immutability.check): replica versions whose lock differs from their source.
WITH pairs AS (
  SELECT a.key, a.version_id,
         nullif(a.lock_mode, '') AS a_mode, a.retain_until AS a_until, coalesce(nullif(a.legal_hold, ''), 'OFF') AS a_hold,
         nullif(c.lock_mode, '') AS c_mode, c.retain_until AS c_until, coalesce(nullif(c.legal_hold, ''), 'OFF') AS c_hold
  FROM archive a
  JOIN replica c ON c.key = a.key AND c.version_id = a.version_id AND NOT c.is_delete_marker
  WHERE NOT a.is_delete_marker
)
SELECT CASE WHEN (CASE c_mode WHEN 'COMPLIANCE' THEN 2 WHEN 'GOVERNANCE' THEN 1 ELSE 0 END)
                 < (CASE a_mode WHEN 'COMPLIANCE' THEN 2 WHEN 'GOVERNANCE' THEN 1 ELSE 0 END)
              OR (a_until IS NOT NULL AND (c_until IS NULL OR c_until < a_until))
              OR (a_hold = 'ON' AND c_hold <> 'ON') THEN 'weaker' ELSE 'differs' END AS kind,
       key || '@' || version_id AS label, a_mode, a_until, a_hold, c_mode, c_until, c_hold
FROM pairs
WHERE NOT (a_mode IS NOT DISTINCT FROM c_mode AND a_until IS NOT DISTINCT FROM c_until AND a_hold = c_hold)
