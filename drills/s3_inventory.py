"""S3 Inventory report format, as the AWS documentation states it (one table, shared by the
embedded cloud that writes reports and by drkit that reads them).

Sources (Amazon S3 User Guide): "Amazon S3 Inventory list" (storage-inventory.html#storage-
inventory-contents: fields and their order), "Locating your inventory list"
(storage-inventory-location.html: manifest.json, manifest.checksum, hive/dt=.../symlink.txt)
and "Querying Amazon S3 Inventory with Amazon Athena" (storage-inventory-athena-query.html).

- CSV files are gzip-compressed, have no header row, quote every value and URL-encode the key.
  Column order: Bucket, Key, VersionId, IsLatest, IsDeleteMarker (the last three only for
  all-versions reports), then the chosen optional fields in the fixed order of ``OPTIONAL``.
- Parquet (and ORC) use snake_case column names (``fileSchema`` is the Parquet message);
  keys are not URL-encoded there; dates are timestamps (milliseconds, UTC).
- ``manifest.json``: sourceBucket, destinationBucket (ARN), version "2016-11-30",
  creationTimestamp (epoch milliseconds as a string), fileFormat, fileSchema and
  files[{key, size, MD5checksum}]; ``manifest.checksum`` holds the MD5 (hex) of manifest.json.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

MANIFEST_VERSION = "2016-11-30"
FORMATS = ("CSV", "Parquet", "ORC")


@dataclass(frozen=True)
class Field:
    name: str            # CSV fileSchema name (and the OptionalFields value)
    column: str          # Parquet / ORC / Athena column name
    parquet: str         # Parquet physical type with its logical annotation


BASE = (
    Field("Bucket", "bucket", "binary (STRING)"),
    Field("Key", "key", "binary (STRING)"),
)
VERSIONED = (
    Field("VersionId", "version_id", "binary (STRING)"),
    Field("IsLatest", "is_latest", "boolean"),
    Field("IsDeleteMarker", "is_delete_marker", "boolean"),
)
OPTIONAL = (
    Field("Size", "size", "int64"),
    Field("LastModifiedDate", "last_modified_date", "int64 (TIMESTAMP(MILLIS,true))"),
    Field("ETag", "e_tag", "binary (STRING)"),
    Field("StorageClass", "storage_class", "binary (STRING)"),
    Field("IsMultipartUploaded", "is_multipart_uploaded", "boolean"),
    Field("ReplicationStatus", "replication_status", "binary (STRING)"),
    Field("EncryptionStatus", "encryption_status", "binary (STRING)"),
    Field("ObjectLockRetainUntilDate", "object_lock_retain_until_date", "int64 (TIMESTAMP(MILLIS,true))"),
    Field("ObjectLockMode", "object_lock_mode", "binary (STRING)"),
    Field("ObjectLockLegalHoldStatus", "object_lock_legal_hold_status", "binary (STRING)"),
    Field("IntelligentTieringAccessTier", "intelligent_tiering_access_tier", "binary (STRING)"),
    Field("BucketKeyStatus", "bucket_key_status", "binary (STRING)"),
    Field("ChecksumAlgorithm", "checksum_algorithm", "binary (STRING)"),
    Field("ObjectAccessControlList", "object_access_control_list", "binary (STRING)"),
    Field("ObjectOwner", "object_owner", "binary (STRING)"),
    Field("LifecycleExpirationDate", "lifecycle_expiration_date", "int64 (TIMESTAMP(MILLIS,true))"),
)
BY_NAME = {f.name: f for f in BASE + VERSIONED + OPTIONAL}
BY_COLUMN = {f.column: f for f in BASE + VERSIONED + OPTIONAL}


def fields_for(optional: list[str] | tuple[str, ...], all_versions: bool) -> list[Field]:
    """The report's columns in AWS's order; unknown optional fields raise ValueError."""
    unknown = [name for name in optional if name not in BY_NAME or BY_NAME[name] in BASE + VERSIONED]
    if unknown:
        raise ValueError(f"unknown S3 Inventory optional field(s): {', '.join(unknown)}")
    chosen = set(optional)
    return [*BASE, *(VERSIONED if all_versions else ()), *(f for f in OPTIONAL if f.name in chosen)]


def csv_schema(fields: list[Field]) -> str:
    """``fileSchema`` of a CSV report: the field names joined by ", "."""
    return ", ".join(f.name for f in fields)


def parquet_schema(fields: list[Field]) -> str:
    """``fileSchema`` of a Parquet report: the Parquet message AWS writes."""
    parts = [f"{'required' if f in BASE else 'optional'} {f.parquet.split(' ', 1)[0]} {f.column}"
             + (f" {f.parquet.split(' ', 1)[1]}" if " " in f.parquet else "") for f in fields]
    return "message s3.inventory { " + "; ".join(parts) + "; }"


def schema_columns(file_format: str, file_schema: str) -> list[Field]:
    """The report's columns from its manifest ``fileSchema`` (CSV names or a Parquet message)."""
    if file_format == "CSV":
        names = [n.strip() for n in file_schema.split(",") if n.strip()]
        unknown = [n for n in names if n not in BY_NAME]
        if unknown:
            raise ValueError(f"fileSchema names unknown field(s): {', '.join(unknown)}")
        return [BY_NAME[n] for n in names]
    body = file_schema[file_schema.find("{") + 1:file_schema.rfind("}")]
    columns = []
    for part in body.split(";"):
        words = part.split()
        if len(words) >= 3:
            if words[2] not in BY_COLUMN:
                raise ValueError(f"fileSchema names unknown column {words[2]!r}")
            columns.append(BY_COLUMN[words[2]])
    return columns


def iso_millis(when: datetime) -> str:
    """A date as CSV inventory writes it: ``2026-11-30T12:00:00.000Z``."""
    when = when.replace(tzinfo=timezone.utc) if when.tzinfo is None else when.astimezone(timezone.utc)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def report_prefix(prefix: str, source_bucket: str, config_id: str) -> str:
    """``<destination prefix>/<source bucket>/<config id>/`` (no leading slash)."""
    head = prefix.strip("/")
    return f"{head + '/' if head else ''}{source_bucket}/{config_id}/"


def manifest_folder(when: datetime) -> str:
    """The manifest's folder name: ``YYYY-MM-DDTHH-MMZ``."""
    return when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H-%MZ")


def hive_partition(when: datetime) -> str:
    """The Hive partition value: ``dt=YYYY-MM-DD-HH-MM``."""
    return "dt=" + when.astimezone(timezone.utc).strftime("%Y-%m-%d-%H-%M")
