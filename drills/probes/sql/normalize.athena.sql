-- One side's normalised rows on Athena (inventory_report.NORMALIZED), from the CSV table of
-- its newest partition; {select_columns} are rendered per report (NULL for absent fields).
SELECT * FROM (
  SELECT url_decode(key) AS key,
         coalesce(nullif(version_id, ''), 'null') AS version_id,
         lower(is_latest) = 'true' AS is_latest,
         lower(is_delete_marker) = 'true' AS is_delete_marker,
         CAST(nullif(size, '') AS bigint) AS size,
         CAST(from_iso8601_timestamp(nullif(last_modified_date, '')) AS timestamp) AS last_modified,
         {select_columns}
  FROM {table} WHERE dt = {dt}
) t WHERE starts_with(key, {scope})
