"""What an AWS Backup recovery point holds, and how a restore job writes it back.

S3: every object version (bytes kept once, by SHA-256, in a ``BlobStore``), with its
user metadata, content headers, tags and checksum; keys whose latest version is a delete
marker are remembered as deleted. Read from moto's backend in-process (a snapshot is one
instant; reading hundreds of versions over HTTP would take seconds at moto's ~100 req/s).
AWS Backup for S3 requires versioning on the bucket and keeps all unexpired versions.

DynamoDB: the table's key schema and indexes, and every item, read over the API.

Restores go through the API with internal clients, so every other behaviour (lifecycle
tracking, replication, notifications) sees the writes as it would see AWS Backup's.
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from botocore.exceptions import BotoCoreError, ClientError

from drills.aws import error_code

if TYPE_CHECKING:
    from drills.cloud.simulation import Simulation

_CONTENT_HEADERS = {"content-type": "ContentType", "content-encoding": "ContentEncoding",
                    "content-disposition": "ContentDisposition", "content-language": "ContentLanguage",
                    "cache-control": "CacheControl"}


class ResourceError(Exception):
    """A resource cannot be backed up or restored; the message becomes the job's StatusMessage."""


class BlobStore:
    """Object bytes kept once per distinct content (SHA-256 hex), shared by all recovery points."""

    def __init__(self) -> None:
        self._blobs: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def put(self, data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        with self._lock:
            self._blobs.setdefault(digest, data)
        return digest

    def get(self, digest: str) -> bytes:
        with self._lock:
            return self._blobs[digest]

    def __len__(self) -> int:
        with self._lock:
            return len(self._blobs)


# --------------------------------------------------------------------------- S3

@dataclass(frozen=True)
class ObjectVersion:
    key: str
    version_id: str
    sha256: str
    size: int
    last_modified: datetime
    metadata: dict[str, str] = field(default_factory=dict)       # user metadata (x-amz-meta-*)
    headers: dict[str, str] = field(default_factory=dict)        # ContentType, CacheControl ...
    tags: dict[str, str] = field(default_factory=dict)
    checksum_algorithm: str | None = None
    storage_class: str = "STANDARD"


@dataclass
class S3Snapshot:
    bucket: str
    region: str
    versions: list[ObjectVersion]         # per key, oldest first
    deleted_keys: set[str]                # keys whose latest version was a delete marker

    @property
    def size(self) -> int:
        return sum(v.size for v in self.versions)

    def current(self) -> dict[str, ObjectVersion]:
        """The latest version of each key that was not deleted."""
        latest = {v.key: v for v in self.versions}
        return {k: v for k, v in latest.items() if k not in self.deleted_keys}


def capture_bucket(sim: "Simulation", bucket_name: str, blobs: BlobStore) -> S3Snapshot:
    backend = sim.s3_backend()
    bucket = backend.buckets.get(bucket_name)
    if bucket is None:
        raise ResourceError(f"Bucket {bucket_name} does not exist")
    if bucket.versioning_status != "Enabled":
        raise ResourceError(f"Versioning must be enabled on bucket {bucket_name} to back it up with AWS Backup")
    versions: list[ObjectVersion] = []
    deleted: set[str] = set()
    for key_name, key_versions in bucket.keys.lists():
        for version in list(key_versions):
            if not hasattr(version, "storage_class"):       # a delete marker
                continue
            meta = dict(version.metadata)
            versions.append(ObjectVersion(
                key=key_name, version_id=str(version.version_id), sha256=blobs.put(version.value),
                size=version.size, last_modified=_aware(version.last_modified),
                metadata={k[11:]: v for k, v in meta.items() if k.lower().startswith("x-amz-meta-")},
                headers={_CONTENT_HEADERS[k.lower()]: v for k, v in meta.items() if k.lower() in _CONTENT_HEADERS},
                tags=backend.tagger.get_tag_dict_for_resource(version.arn),
                checksum_algorithm=version.checksum_algorithm,
                storage_class=version.storage_class or "STANDARD"))
        if key_versions and not hasattr(key_versions[-1], "storage_class"):
            deleted.add(key_name)
    return S3Snapshot(bucket_name, bucket.region_name, versions, deleted)


@dataclass(frozen=True)
class S3RestoreOptions:
    bucket: str
    new_bucket: bool
    encryption: dict[str, str]
    items: tuple[str, ...]                # s3://bucket/key-or-prefix filters (ItemsToRestore)

    @classmethod
    def from_metadata(cls, metadata: dict[str, str], snapshot: S3Snapshot) -> "S3RestoreOptions":
        bucket = metadata.get("DestinationBucketName") or ""
        if not bucket:
            raise ValueError("Metadata DestinationBucketName is required to restore an S3 recovery point")
        new_bucket = str(metadata.get("NewBucket", "true")).lower() == "true"
        encryption: dict[str, str] = {}
        if str(metadata.get("Encrypted", "false")).lower() == "true":
            if metadata.get("EncryptionType") == "SSE-KMS":
                encryption = {"ServerSideEncryption": "aws:kms"}
                if metadata.get("KMSKey"):
                    encryption["SSEKMSKeyId"] = metadata["KMSKey"]
            else:
                encryption = {"ServerSideEncryption": "AES256"}
        items: tuple[str, ...] = ()
        if metadata.get("ItemsToRestore"):
            try:
                items = tuple(json.loads(metadata["ItemsToRestore"]))
            except (TypeError, ValueError) as exc:
                raise ValueError("Metadata ItemsToRestore must be a JSON list of s3:// paths") from exc
        return cls(bucket, new_bucket, encryption, items)

    def wanted(self, source_bucket: str, key: str) -> bool:
        if not self.items:
            return True
        return any(f"s3://{source_bucket}/{key}".startswith(item) for item in self.items)


def restore_bucket(sim: "Simulation", snapshot: S3Snapshot, region: str, options: S3RestoreOptions,
                   blobs: BlobStore) -> tuple[str, int]:
    """Write the snapshot into ``options.bucket``; returns (created resource ARN, versions written).

    A version older than the one already current in the destination is skipped."""
    s3 = sim.internal_client("s3", region)
    try:
        existing = _prepare_bucket(s3, sim, options, region)
        written = 0
        for version in snapshot.versions:
            if not options.wanted(snapshot.bucket, version.key):
                continue
            there = existing.get(version.key)
            if there is not None and there > version.last_modified:
                continue
            args: dict[str, Any] = {"Bucket": options.bucket, "Key": version.key, "Body": blobs.get(version.sha256),
                                    "Metadata": version.metadata, **version.headers, **options.encryption}
            if version.tags:
                args["Tagging"] = urlencode(version.tags)
            if version.checksum_algorithm:
                args["ChecksumAlgorithm"] = version.checksum_algorithm
            s3.put_object(**args)
            written += 1
        for key in sorted(snapshot.deleted_keys):
            if options.wanted(snapshot.bucket, key) and key not in existing:
                s3.delete_object(Bucket=options.bucket, Key=key)
    except (ClientError, BotoCoreError) as exc:
        raise ResourceError(f"Restore into bucket {options.bucket} failed: {exc}") from exc
    return f"arn:aws:s3:::{options.bucket}", written


def _prepare_bucket(s3: Any, sim: "Simulation", options: S3RestoreOptions, region: str) -> dict[str, datetime]:
    """Create the new bucket (versioned), or read when each live object of the existing one was written."""
    bucket = sim.s3_backend().buckets.get(options.bucket)
    if options.new_bucket:
        if bucket is not None:
            raise ResourceError(f"Bucket {options.bucket} already exists; restore with NewBucket=false "
                                "to restore into it")
        kwargs: dict[str, Any] = {}
        if region != "us-east-1":
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
        s3.create_bucket(Bucket=options.bucket, **kwargs)
        s3.put_bucket_versioning(Bucket=options.bucket, VersioningConfiguration={"Status": "Enabled"})
        return {}
    if bucket is None:
        raise ResourceError(f"Destination bucket {options.bucket} does not exist")
    current: dict[str, datetime] = {}
    for key_name, versions in bucket.keys.lists():
        if versions and hasattr(versions[-1], "storage_class"):     # a live object, not a delete marker
            current[key_name] = _aware(versions[-1].last_modified)
    return current


# --------------------------------------------------------------------------- DynamoDB

@dataclass
class TableSnapshot:
    table: str
    region: str
    schema: dict[str, Any]               # CreateTable arguments except the name
    items: list[dict[str, Any]]          # in the wire's attribute-value form

    @property
    def size(self) -> int:
        return sum(len(json.dumps(item, sort_keys=True)) for item in self.items)


def capture_table(sim: "Simulation", table: str, region: str) -> TableSnapshot:
    ddb = sim.internal_client("dynamodb", region)
    try:
        desc = ddb.describe_table(TableName=table)["Table"]
        items: list[dict[str, Any]] = []
        for page in ddb.get_paginator("scan").paginate(TableName=table, ConsistentRead=True):
            items.extend(page.get("Items", []))
    except ClientError as exc:
        if error_code(exc) == "ResourceNotFoundException":
            raise ResourceError(f"Table {table} does not exist in {region}") from exc
        raise ResourceError(f"Cannot read table {table}: {exc}") from exc
    except BotoCoreError as exc:
        raise ResourceError(f"Cannot read table {table}: {exc}") from exc
    return TableSnapshot(table, region, _table_schema(desc), items)


def _table_schema(desc: dict[str, Any]) -> dict[str, Any]:
    schema: dict[str, Any] = {"KeySchema": desc["KeySchema"], "AttributeDefinitions": desc["AttributeDefinitions"],
                              "BillingMode": "PAY_PER_REQUEST"}
    for name in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
        indexes = [{"IndexName": i["IndexName"], "KeySchema": i["KeySchema"], "Projection": i["Projection"]}
                   for i in desc.get(name, [])]
        if indexes:
            schema[name] = indexes
    return schema


def restore_table(sim: "Simulation", snapshot: TableSnapshot, region: str, target: str) -> tuple[str, int]:
    """Create ``target`` with the snapshot's schema and write its items; returns (table ARN, items)."""
    ddb = sim.internal_client("dynamodb", region)
    try:
        created = ddb.create_table(TableName=target, **snapshot.schema)["TableDescription"]
        for start in range(0, len(snapshot.items), 25):
            batch = [{"PutRequest": {"Item": item}} for item in snapshot.items[start:start + 25]]
            pending: dict[str, Any] = {target: batch}
            while pending:
                pending = ddb.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
    except ClientError as exc:
        if error_code(exc) == "ResourceInUseException":
            raise ResourceError(f"Table {target} already exists") from exc
        raise ResourceError(f"Restore into table {target} failed: {exc}") from exc
    except BotoCoreError as exc:
        raise ResourceError(f"Restore into table {target} failed: {exc}") from exc
    return created["TableArn"], len(snapshot.items)


def _aware(when: datetime) -> datetime:
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)
