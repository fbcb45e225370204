"""S3 Inventory reports from the buckets' real state, in AWS's layout, daily in virtual time.

moto stores inventory configurations and never runs them (REFERENCE.md). This behaviour
writes the reports S3 would deliver (Amazon S3 User Guide, "Amazon S3 Inventory" and
"Locating your inventory list"; the format facts live in ``drills.s3_inventory``):

* for every enabled configuration, at each virtual midnight UTC (daily; weekly ones on
  Sundays) and on ``POST /_drkit/inventory/generate`` (``{"bucket": ..., "id": ...}``
  optional filters), one report of the source bucket as it is at that virtual instant;
* data files ``<prefix>/<source>/<id>/data/<uuid>.csv.gz`` (gzip CSV, no header row, every
  value quoted, keys URL-encoded) or ``.parquet`` (snake_case columns, timestamps in ms),
  ``<prefix>/<source>/<id>/<YYYY-MM-DDTHH-MMZ>/manifest.json`` with ``manifest.checksum``
  (MD5 of the manifest), and ``<prefix>/<source>/<id>/hive/dt=<YYYY-MM-DD-HH-MM>/symlink.txt``
  naming the data files;
* all versions (IsLatest, IsDeleteMarker) or current versions only, the configuration's
  prefix filter and optional fields in AWS's column order; written into the destination
  bucket with the configuration's encryption (SSE-KMS key or SSE-S3), as S3 itself (an
  internal request, so bucket policies that admit only the S3 service do not refuse it).

Field values come from moto's stored versions and the other behaviours: ReplicationStatus
from the replication behaviour, lock fields from the version, EncryptionStatus SSE-KMS /
SSE-S3 (S3 encrypts every new object since January 2023, so an object without a recorded
encryption reports SSE-S3). Not emulated (left empty): ObjectAccessControlList, ObjectOwner,
LifecycleExpirationDate, IntelligentTieringAccessTier; ORC output (a configuration asking
for ORC gets no report and the status says why). AWS delivers a report up to 48 hours after
its date; here it is written at the instant it is dated. Every timestamp is virtual.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import logging
import os
import tempfile
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Iterator
from urllib.parse import quote_plus

import xmltodict

from drills import s3_inventory as fmt
from drills.cloud.clock import SIMULATED, ScheduledTask
from drills.cloud.interceptors import AwsRequest, AwsResponse, Interceptor

if TYPE_CHECKING:
    from drills.cloud.simulation import Simulation

log = logging.getLogger(__name__)

ROWS_PER_FILE = 250_000
_PUT_OPS = ("PutBucketInventoryConfiguration",)


@dataclass(frozen=True)
class InventoryConfig:
    bucket: str
    id: str
    enabled: bool
    all_versions: bool
    frequency: str              # Daily | Weekly
    destination: str            # bucket name
    file_format: str            # CSV | Parquet | ORC
    prefix: str
    filter_prefix: str
    optional_fields: tuple[str, ...]
    sse_kms_key: str | None = None


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def parse_config(bucket: str, raw: dict[str, Any], included: str | None = None) -> InventoryConfig:
    """An InventoryConfiguration as parsed XML (moto's stored dict or the request body)."""
    dest = (raw.get("Destination") or {}).get("S3BucketDestination") or {}
    optional = raw.get("OptionalFields") or {}
    fields = _as_list(optional.get("Field") if isinstance(optional, dict) else optional)
    enc = dest.get("Encryption") or {}
    kms = enc.get("SSE-KMS") or enc.get("SSEKMS") or None
    return InventoryConfig(
        bucket=bucket, id=str(raw.get("Id")),
        enabled=str(raw.get("IsEnabled", "true")).lower() == "true",
        all_versions=(included or raw.get("IncludedObjectVersions") or "All") == "All",
        frequency=str((raw.get("Schedule") or {}).get("Frequency") or "Daily"),
        destination=str(dest.get("Bucket", "")).rsplit(":", 1)[-1],
        file_format=str(dest.get("Format") or "CSV"), prefix=str(dest.get("Prefix") or ""),
        filter_prefix=str((raw.get("Filter") or {}).get("Prefix") or ""),
        optional_fields=tuple(str(f) for f in fields),
        sse_kms_key=(kms or {}).get("KeyId") if isinstance(kms, dict) else None)


class S3Inventory(Interceptor):
    name = "inventory"

    def __init__(self, sim: "Simulation") -> None:
        super().__init__(sim)
        self._lock = threading.Lock()
        self._daily: ScheduledTask | None = None
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._included: dict[tuple[str, str], str] = {}
            self._reports: list[dict[str, Any]] = []
            self._skipped: list[dict[str, str]] = []
            if self._daily is not None:
                self._daily.cancel()
                self._daily = None

    # ------------------------------------------------------------------ hooks
    def after(self, req: AwsRequest, resp: AwsResponse) -> AwsResponse:
        if req.service == "s3" and resp.ok and req.bucket and req.operation in _PUT_OPS:
            try:
                body = xmltodict.parse(req.body).get("InventoryConfiguration") or {}
            except Exception:           # noqa: BLE001 - moto accepted it; keep its stored form
                body = {}
            if body.get("Id"):
                with self._lock:
                    # moto answers IncludedObjectVersions "All" whatever was sent: keep the sent value.
                    self._included[(req.bucket, str(body["Id"]))] = str(body.get("IncludedObjectVersions") or "All")
            self._ensure_daily()
        return resp

    def control(self, action: str, params: dict[str, Any]) -> dict[str, Any]:
        if action == "generate":
            reports = self.generate(bucket=params.get("bucket"), config_id=params.get("id"))
            return {"now": self.sim.clock.now().isoformat(), "reports": reports, "label": SIMULATED}
        raise KeyError(action)

    def status(self) -> dict[str, Any]:
        with self._lock:
            return {"configurations": [f"{c.bucket}:{c.id}" for c in self.configs()],
                    "reports": list(self._reports[-20:]), "reportsWritten": len(self._reports),
                    "skipped": list(self._skipped[-20:]),
                    "notEmulated": ["ORC output", "ObjectAccessControlList", "ObjectOwner",
                                    "LifecycleExpirationDate", "IntelligentTieringAccessTier"],
                    "label": SIMULATED}

    # ------------------------------------------------------------------ configurations
    def configs(self) -> list[InventoryConfig]:
        found = []
        for name, bucket in list(self.sim.s3_backend().buckets.items()):
            for config_id, stored in list(getattr(bucket, "inventory_configs", {}).items()):
                raw = {"Id": config_id, "IsEnabled": stored.is_enabled, "Destination": stored.destination,
                       "Schedule": stored.schedule, "Filter": stored.filters,
                       "OptionalFields": stored.optional_fields}
                found.append(parse_config(name, raw, self._included.get((name, str(config_id)))))
        return found

    # ------------------------------------------------------------------ schedule
    def _ensure_daily(self) -> None:
        with self._lock:
            if self._daily is not None:
                return
            self._daily = self.sim.clock.schedule_at(self.sim.clock.next_midnight(), self._run_daily, "inventory: daily reports")

    def _run_daily(self) -> None:
        with self._lock:
            self._daily = None
        try:
            sunday = self.sim.clock.now().weekday() == 6
            for config in self.configs():
                if config.enabled and (config.frequency == "Daily" or sunday):
                    self._report(config)
        finally:
            if self.configs():
                self._ensure_daily()

    # ------------------------------------------------------------------ reports
    def generate(self, bucket: str | None = None, config_id: str | None = None) -> list[dict[str, Any]]:
        """One report now for each enabled configuration (optionally one bucket / id)."""
        written = []
        for config in self.configs():
            if (bucket and config.bucket != bucket) or (config_id and config.id != config_id) or not config.enabled:
                continue
            report = self._report(config)
            if report is not None:
                written.append(report)
        return written

    def _report(self, config: InventoryConfig) -> dict[str, Any] | None:
        if config.file_format not in ("CSV", "Parquet"):
            with self._lock:
                self._skipped.append({"configuration": f"{config.bucket}:{config.id}",
                                      "reason": f"{config.file_format} output is not emulated"})
            return None
        fields = fmt.fields_for(config.optional_fields, config.all_versions)
        now = self.sim.clock.now()
        base = fmt.report_prefix(config.prefix, config.bucket, config.id)
        s3 = self.sim.internal_client("s3", self._region(config.destination))
        extra = ({"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": config.sse_kms_key} if config.sse_kms_key
                 else {"ServerSideEncryption": "AES256"})
        files = []
        rows = 0
        for chunk in _chunks(self._rows(config, fields), ROWS_PER_FILE):
            rows += len(chunk)
            ext, body = (("csv.gz", _csv_gz(chunk, fields)) if config.file_format == "CSV"
                         else ("parquet", _parquet(chunk, fields)))
            key = f"{base}data/{uuid.uuid4()}.{ext}"
            s3.put_object(Bucket=config.destination, Key=key, Body=body, **extra)
            files.append({"key": key, "size": len(body), "MD5checksum": hashlib.md5(body).hexdigest()})
        schema = fmt.csv_schema(fields) if config.file_format == "CSV" else fmt.parquet_schema(fields)
        manifest = {"sourceBucket": config.bucket, "destinationBucket": f"arn:aws:s3:::{config.destination}",
                    "version": fmt.MANIFEST_VERSION,
                    "creationTimestamp": str(int(now.timestamp() * 1000)),
                    "fileFormat": config.file_format, "fileSchema": schema, "files": files}
        document = json.dumps(manifest, indent=2).encode()
        folder = f"{base}{fmt.manifest_folder(now)}/"
        s3.put_object(Bucket=config.destination, Key=f"{folder}manifest.json", Body=document, **extra)
        s3.put_object(Bucket=config.destination, Key=f"{folder}manifest.checksum",
                      Body=hashlib.md5(document).hexdigest().encode(), **extra)
        symlink = "".join(f"s3://{config.destination}/{f['key']}\n" for f in files).encode()
        s3.put_object(Bucket=config.destination, Key=f"{base}hive/{fmt.hive_partition(now)}/symlink.txt",
                      Body=symlink, **extra)
        report = {"sourceBucket": config.bucket, "id": config.id, "destinationBucket": config.destination,
                  "manifest": f"{folder}manifest.json", "rows": rows, "files": len(files),
                  "format": config.file_format, "at": now.isoformat()}
        with self._lock:
            self._reports.append(report)
        return report

    def _region(self, bucket: str) -> str:
        found = self.sim.s3_backend().buckets.get(bucket)
        return getattr(found, "region_name", None) or "us-east-1"

    def _rows(self, config: InventoryConfig, fields: list[fmt.Field]) -> Iterator[dict[str, Any]]:
        bucket = self.sim.s3_backend().buckets.get(config.bucket)
        if bucket is None:
            return
        try:
            replication = self.sim["replication"]
        except KeyError:
            replication = None
        for key in sorted(k for k in list(bucket.keys.keys()) if k.startswith(config.filter_prefix)):
            versions = list(bucket.keys.getlist(key, []))
            if not config.all_versions:
                versions = versions[-1:] if versions and hasattr(versions[-1], "storage_class") else []
            for i, version in enumerate(versions):
                yield _row(config.bucket, key, version, i == len(versions) - 1, replication)


def _row(bucket: str, key: str, version: Any, latest: bool, replication: Any) -> dict[str, Any]:
    marker = not hasattr(version, "storage_class")
    vid = str(version.version_id)
    row: dict[str, Any] = {"Bucket": bucket, "Key": key, "VersionId": vid, "IsLatest": latest,
                           "IsDeleteMarker": marker, "LastModifiedDate": _aware(version.last_modified)}
    if marker:
        return row
    status = replication.replication_status(bucket, key, vid) if replication is not None else None
    encryption = getattr(version, "encryption", None)
    row.update({
        "Size": int(version.size), "ETag": str(version.etag).strip('"'), "StorageClass": version.storage_class
        or "STANDARD", "IsMultipartUploaded": bool(getattr(version, "multipart", None)),
        "ReplicationStatus": status, "EncryptionStatus": "SSE-KMS" if encryption == "aws:kms" else "SSE-S3",
        "ObjectLockRetainUntilDate": _parse(getattr(version, "lock_until", None)),
        "ObjectLockMode": getattr(version, "lock_mode", None),
        "ObjectLockLegalHoldStatus": getattr(version, "lock_legal_status", None) or "OFF",
        "BucketKeyStatus": "ENABLED" if getattr(version, "bucket_key_enabled", False) else "DISABLED",
        "ChecksumAlgorithm": getattr(version, "checksum_algorithm", None),
    })
    return row


def _aware(when: datetime) -> datetime:
    return when.replace(tzinfo=timezone.utc) if when.tzinfo is None else when.astimezone(timezone.utc)


def _parse(value: Any) -> datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return _aware(value)
    return _aware(datetime.fromisoformat(str(value).replace("Z", "+00:00")))


def _chunks(rows: Iterator[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    chunk: list[dict[str, Any]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _csv_value(field: fmt.Field, value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return fmt.iso_millis(value)
    if field.name == "Key":
        return quote_plus(str(value), safe="/")
    return str(value)


def _csv_gz(rows: list[dict[str, Any]], fields: list[fmt.Field]) -> bytes:
    text = io.StringIO()
    writer = csv.writer(text, quoting=csv.QUOTE_ALL, lineterminator="\n")
    for row in rows:
        writer.writerow([_csv_value(f, row.get(f.name)) for f in fields])
    return gzip.compress(text.getvalue().encode("utf-8"), mtime=0)


_DUCK_TYPES = {"boolean": "BOOLEAN", "int64": "BIGINT", "binary": "VARCHAR"}


def _parquet(rows: list[dict[str, Any]], fields: list[fmt.Field]) -> bytes:
    """One Parquet file; timestamps are written as UTC-adjusted (converted inside DuckDB)."""
    import duckdb

    def duck_type(f: fmt.Field) -> str:
        return "TIMESTAMP" if "TIMESTAMP" in f.parquet else _DUCK_TYPES[f.parquet.split()[0]]

    def naive(value: Any) -> Any:
        return value.astimezone(timezone.utc).replace(tzinfo=None) if isinstance(value, datetime) else value

    con = duckdb.connect()
    try:
        con.execute("SET TimeZone='UTC'")
        con.execute(f"CREATE TABLE inv ({', '.join(f'{chr(34)}{f.column}{chr(34)} {duck_type(f)}' for f in fields)})")
        con.executemany(f"INSERT INTO inv VALUES ({', '.join('?' for _ in fields)})",
                        [[naive(row.get(f.name)) for f in fields] for row in rows])
        select = ", ".join(f'CAST("{f.column}" AS TIMESTAMPTZ) AS "{f.column}"' if duck_type(f) == "TIMESTAMP"
                           else f'"{f.column}"' for f in fields)
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "part.parquet")
            con.execute(f"COPY (SELECT {select} FROM inv) TO '{path}' (FORMAT PARQUET)")
            with open(path, "rb") as fh:
                return fh.read()
    finally:
        con.close()
