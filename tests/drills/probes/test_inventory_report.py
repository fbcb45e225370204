"""Reading S3 Inventory reports (drills.probes.inventory_report): a report written by hand in
the layout the AWS documentation gives ("Amazon S3 Inventory list" and "Locating your
inventory list", https://docs.aws.amazon.com/AmazonS3/latest/userguide/storage-inventory-location.html)
parses with the same reader as the embedded cloud's reports (tests/drills/cloud/test_inventory.py)."""

from __future__ import annotations

import gzip
import hashlib
import json
from datetime import datetime

import duckdb
import pytest

from drills.probes.inventory_report import InventoryReport, ReportUnusable, load_local

# The manifest of the AWS documentation's example (all versions, CSV), with this test's file.
SCHEMA = ("Bucket, Key, VersionId, IsLatest, IsDeleteMarker, Size, LastModifiedDate, ETag, StorageClass, "
          "IsMultipartUploaded, ReplicationStatus, EncryptionStatus, ObjectLockRetainUntilDate, ObjectLockMode, "
          "ObjectLockLegalHoldStatus")
ROWS = [
    '"example-source-bucket","dicom/1.2/3.4/5.6.dcm","3HL4kqtJvjVBH40Nrjfkd","true","false","500","2016-11-06T21:32:00.000Z",'
    '"d41d8cd98f00b204e9800998ecf8427e","STANDARD","false","COMPLETED","SSE-KMS","2026-11-06T21:32:00.000Z","COMPLIANCE","OFF"',
    '"example-source-bucket","dicom/1.2/3.4/5.6.dcm","Wf3ZkT5nD2zX9","false","false","400","2016-11-05T10:00:00.000Z",'
    '"5d41402abc4b2a76b9719d911017c592","GLACIER","true","COMPLETED","SSE-KMS","","","ON"',
    '"example-source-bucket","my+report%2B1.txt","abc","true","false","7","2016-11-06T21:32:00.000Z","x","STANDARD",'
    '"false","","SSE-S3","","",""',
    '"example-source-bucket","dicom/gone.dcm","dm1","true","true","","2016-11-07T00:00:00.000Z","","","","","","","",""',
]


def _write(tmp_path, rows=ROWS, schema=SCHEMA, version="2016-11-30"):
    body = gzip.compress(("\n".join(rows) + "\n").encode())
    (tmp_path / "939c6d46-85a9-4ba8-87bd-9db705a579ce.csv.gz").write_bytes(body)
    manifest = {"sourceBucket": "example-source-bucket",
                "destinationBucket": "arn:aws:s3:::example-inventory-destination-bucket",
                "version": version, "creationTimestamp": "1514944800000", "fileFormat": "CSV", "fileSchema": schema,
                "files": [{"key": "Inventory/example-source-bucket/2016-11-06T21-32Z/files/"
                                  "939c6d46-85a9-4ba8-87bd-9db705a579ce.csv.gz",
                           "size": len(body), "MD5checksum": hashlib.md5(body).hexdigest()}]}
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(manifest))
    return path


def _rows(report: InventoryReport) -> list[dict]:
    con = duckdb.connect()
    con.execute("SET TimeZone='UTC'")
    cur = con.execute(report.normalized_select() + " ORDER BY key, version_id")
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r)) for r in cur.fetchall()]


def test_a_hand_written_aws_csv_report_reads_with_typed_columns(tmp_path):
    rows = _rows(load_local(_write(tmp_path)))
    by = {(r["key"], r["version_id"]): r for r in rows}
    current = by[("dicom/1.2/3.4/5.6.dcm", "3HL4kqtJvjVBH40Nrjfkd")]
    assert current["is_latest"] is True and current["is_delete_marker"] is False and current["size"] == 500
    assert current["last_modified"] == datetime(2016, 11, 6, 21, 32)
    assert current["retain_until"] == datetime(2026, 11, 6, 21, 32) and current["lock_mode"] == "COMPLIANCE"
    older = by[("dicom/1.2/3.4/5.6.dcm", "Wf3ZkT5nD2zX9")]
    assert older["is_latest"] is False and older["legal_hold"] == "ON" and older["retain_until"] is None
    assert ("my report+1.txt", "abc") in by                    # URL-decoded: '+' a space, %2B a plus
    marker = by[("dicom/gone.dcm", "dm1")]
    assert marker["is_delete_marker"] is True and marker["size"] is None
    assert by[("my report+1.txt", "abc")]["replication_status"] is None


def test_a_field_the_report_lacks_reads_as_null(tmp_path):
    schema = "Bucket, Key, VersionId, IsLatest, IsDeleteMarker, Size, LastModifiedDate"
    rows = ['"b","k","v","true","false","1","2016-11-06T21:32:00.000Z"']
    (row,) = _rows(load_local(_write(tmp_path, rows, schema)))
    assert row["lock_mode"] is None and row["replication_status"] is None and row["size"] == 1


@pytest.mark.parametrize("schema, version, message", [
    ("Bucket, Key, Size, LastModifiedDate", "2016-11-30", "lacks VersionId"),
    (SCHEMA + ", Colour", "2016-11-30", r"unknown field\(s\): Colour"),
    (SCHEMA, "2020-01-01", "manifest version"),
])
def test_unusable_manifests_say_why(tmp_path, schema, version, message):
    with pytest.raises(ReportUnusable, match=message):
        load_local(_write(tmp_path, schema=schema, version=version))
