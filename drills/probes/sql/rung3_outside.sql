-- Rung 3: current archive keys that do not follow the layout.
SELECT 'outside' AS kind, key AS label FROM current_keys WHERE side = 'archive' AND study IS NULL
