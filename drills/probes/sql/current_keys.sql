-- Current instances of both sides outside in-flight keys (a view on Athena, a table in DuckDB), parsed as
-- <scope><Study>/<Series>/<SOP>.dcm (study NULL when a key does not follow the layout).
SELECT side, key,
       nullif(regexp_extract(key, {scope_regex}, 1), '') AS study,
       nullif(regexp_extract(key, {scope_regex}, 2), '') AS series,
       nullif(regexp_extract(key, {scope_regex}, 3), '') AS sop
FROM (SELECT 'archive' AS side, key, version_id, is_latest, is_delete_marker FROM archive
      UNION ALL
      SELECT 'replica' AS side, key, version_id, is_latest, is_delete_marker FROM replica) v
WHERE is_latest AND NOT is_delete_marker
  AND key NOT IN (SELECT key FROM in_flight)
