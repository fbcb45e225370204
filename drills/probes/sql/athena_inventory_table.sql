-- The Athena table over one bucket's CSV inventory, as AWS documents it ("Querying Amazon S3
-- Inventory with Amazon Athena", storage-inventory-athena-query.html): OpenCSVSerde, the hive
-- symlink folder, partition projection on dt. Columns follow the report's fileSchema (the
-- runner renders {columns} from the manifest); OpenCSVSerde reads every column as a string.
CREATE EXTERNAL TABLE IF NOT EXISTS {table} (
{columns}
)
PARTITIONED BY (dt string)
ROW FORMAT SERDE 'org.apache.hadoop.hive.serde2.OpenCSVSerde'
STORED AS INPUTFORMAT 'org.apache.hadoop.hive.ql.io.SymlinkTextInputFormat'
OUTPUTFORMAT 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat'
LOCATION {location}
TBLPROPERTIES (
  'projection.enabled' = 'true',
  'projection.dt.type' = 'date',
  'projection.dt.format' = 'yyyy-MM-dd-HH-mm',
  'projection.dt.range' = '2022-01-01-00-00,NOW',
  'projection.dt.interval' = '1',
  'projection.dt.interval.unit' = 'HOURS'
)
