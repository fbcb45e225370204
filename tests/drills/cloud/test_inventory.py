"""S3 Inventory reports from the buckets' real state (drills.cloud.sim.inventory).

Layout and format per the Amazon S3 User Guide: "Amazon S3 Inventory"
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/storage-inventory.html) and "Locating
your inventory list" (https://docs.aws.amazon.com/AmazonS3/latest/userguide/storage-inventory-location.html):
manifest.json (sourceBucket, destinationBucket, version 2016-11-30, creationTimestamp,
fileFormat, fileSchema, files[key, size, MD5checksum]), manifest.checksum, hive/dt=.../symlink.txt;
CSV gzip without a header row in AWS's column order.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
from datetime import timedelta

from drills.cloud.control import HttpControl
from drills.probes.inventory_report import InventoryReport

FIELDS = ["Size", "LastModifiedDate", "StorageClass", "ETag", "ReplicationStatus", "ObjectLockMode",
          "ObjectLockRetainUntilDate", "ObjectLockLegalHoldStatus", "ChecksumAlgorithm"]


def _setup(s3, bucket_name, fmt: str = "CSV", versions: str = "All", fields=FIELDS, prefix: str = "inv"):
    source, dest = bucket_name(), bucket_name()
    s3.create_bucket(Bucket=source)
    s3.create_bucket(Bucket=dest)
    s3.put_bucket_versioning(Bucket=source, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_inventory_configuration(Bucket=source, Id="daily", InventoryConfiguration={
        "Id": "daily", "IsEnabled": True, "IncludedObjectVersions": versions, "Schedule": {"Frequency": "Daily"},
        "OptionalFields": fields,
        "Destination": {"S3BucketDestination": {"Bucket": f"arn:aws:s3:::{dest}", "Format": fmt, "Prefix": prefix}}})
    return source, dest


def _objects(s3, dest: str) -> dict[str, bytes]:
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=dest).get("Contents", [])]
    return {k: s3.get_object(Bucket=dest, Key=k)["Body"].read() for k in keys}


def test_a_csv_report_has_aws_layout_and_lists_every_version(cloud, s3, bucket_name):
    source, dest = _setup(s3, bucket_name)
    s3.put_object(Bucket=source, Key="dicom/a b.dcm", Body=b"one")
    s3.put_object(Bucket=source, Key="dicom/a b.dcm", Body=b"two!")
    s3.put_object(Bucket=source, Key="dicom/gone.dcm", Body=b"x")
    s3.delete_object(Bucket=source, Key="dicom/gone.dcm")                  # now a delete marker
    (report,) = HttpControl(cloud.endpoint).call("inventory", "generate", {"bucket": source})["reports"]
    files = _objects(s3, dest)
    base = f"inv/{source}/daily/"
    manifest_key = report["manifest"]
    assert manifest_key.startswith(base) and manifest_key.endswith("Z/manifest.json")
    manifest = json.loads(files[manifest_key])
    assert manifest["version"] == "2016-11-30" and manifest["sourceBucket"] == source
    assert manifest["destinationBucket"] == f"arn:aws:s3:::{dest}" and manifest["fileFormat"] == "CSV"
    assert manifest["creationTimestamp"] == str(int(cloud.clock.now().timestamp() * 1000))
    assert manifest["fileSchema"] == ("Bucket, Key, VersionId, IsLatest, IsDeleteMarker, Size, LastModifiedDate, "
                                      "ETag, StorageClass, ReplicationStatus, ObjectLockRetainUntilDate, "
                                      "ObjectLockMode, ObjectLockLegalHoldStatus, ChecksumAlgorithm")
    assert files[manifest_key.replace("manifest.json", "manifest.checksum")].decode() == \
        hashlib.md5(files[manifest_key]).hexdigest()
    (entry,) = manifest["files"]
    body = files[entry["key"]]
    assert entry["key"].startswith(f"{base}data/") and entry["key"].endswith(".csv.gz")
    assert entry["size"] == len(body) and entry["MD5checksum"] == hashlib.md5(body).hexdigest()
    (symlink_key,) = [k for k in files if k.startswith(f"{base}hive/dt=") and k.endswith("/symlink.txt")]
    assert files[symlink_key].decode() == f"s3://{dest}/{entry['key']}\n"
    text = gzip.decompress(body).decode()
    assert text.startswith(f'"{source}","dicom/a+b.dcm",')                 # no header, quoted, URL-encoded
    rows = list(csv.reader(io.StringIO(text)))
    assert len(rows) == 4 and all(len(r) == 14 for r in rows)
    latest = [r for r in rows if r[1] == "dicom/a+b.dcm" and r[3] == "true"]
    assert latest[0][4] == "false" and latest[0][5] == "4"
    marker = next(r for r in rows if r[1] == "dicom/gone.dcm" and r[4] == "true")
    assert marker[3:5] == ["true", "true"] and marker[5] == ""


def test_current_versions_only_lacks_the_version_columns(cloud, s3, bucket_name):
    source, dest = _setup(s3, bucket_name, versions="Current", fields=["Size"])
    s3.put_object(Bucket=source, Key="k", Body=b"one")
    s3.put_object(Bucket=source, Key="k", Body=b"two!")
    (report,) = HttpControl(cloud.endpoint).call("inventory", "generate", {"bucket": source})["reports"]
    files = _objects(s3, dest)
    manifest = json.loads(files[report["manifest"]])
    assert manifest["fileSchema"] == "Bucket, Key, Size"
    rows = list(csv.reader(io.StringIO(gzip.decompress(files[manifest["files"][0]["key"]]).decode())))
    assert rows == [[source, "k", "4"]]


def test_a_parquet_report_parses_with_the_reader(cloud, s3, bucket_name, tmp_path):
    source, dest = _setup(s3, bucket_name, fmt="Parquet")
    put = s3.put_object(Bucket=source, Key="dicom/x.dcm", Body=b"abc")
    (report,) = HttpControl(cloud.endpoint).call("inventory", "generate", {"bucket": source})["reports"]
    files = _objects(s3, dest)
    manifest = json.loads(files[report["manifest"]])
    assert manifest["fileFormat"] == "Parquet" and manifest["fileSchema"].startswith("message s3.inventory {")
    path = tmp_path / "part.parquet"
    path.write_bytes(files[manifest["files"][0]["key"]])
    import duckdb
    rows = duckdb.sql(InventoryReport(manifest, [path]).normalized_select()).fetchall()
    assert [(r[1], r[2], r[3], r[4], r[5]) for r in rows] == [("dicom/x.dcm", put["VersionId"], True, False, 3)]


def test_reports_are_written_at_each_virtual_midnight(cloud, s3, bucket_name):
    source, dest = _setup(s3, bucket_name)
    s3.put_object(Bucket=source, Key="k", Body=b"x")
    cloud.clock.advance(timedelta(days=2))
    manifests = [k for k in _objects(s3, dest) if k.endswith("manifest.json")]
    assert len(manifests) == 2 and all(k.split("/")[-2].endswith("T00-00Z") for k in manifests)


def test_orc_output_is_reported_as_not_emulated(cloud, s3, bucket_name):
    source, _ = _setup(s3, bucket_name, fmt="ORC")
    assert HttpControl(cloud.endpoint).call("inventory", "generate", {"bucket": source})["reports"] == []
    status = HttpControl(cloud.endpoint).status()["behaviours"]["inventory"]
    assert status["skipped"][-1]["reason"] == "ORC output is not emulated"
