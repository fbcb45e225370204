"""Read S3 Inventory reports: find the newest report of a bucket's inventory configuration,
check it (manifest.checksum, each file's MD5), fetch its data files, and expose them to DuckDB
as one relation with normalised columns.

The relation (``normalized_select``) has: bucket, key (URL-decoded for CSV), version_id,
is_latest, is_delete_marker, size, last_modified, replication_status, lock_mode,
retain_until, legal_hold, storage_class, checksum_algorithm — NULL where the report lacks
the field. The same reader serves reports the embedded cloud writes and reports from AWS.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from drills import s3_inventory as fmt
from drills.errors import InfraError
from drills.probes.observe import Unobservable, call

# normalised column -> (source field, how to turn the raw text into the typed value)
NORMALIZED = (
    ("bucket", "Bucket", "text"), ("key", "Key", "key"), ("version_id", "VersionId", "version"),
    ("is_latest", "IsLatest", "bool"), ("is_delete_marker", "IsDeleteMarker", "bool"),
    ("size", "Size", "int"), ("last_modified", "LastModifiedDate", "time"),
    ("replication_status", "ReplicationStatus", "text"), ("lock_mode", "ObjectLockMode", "text"),
    ("retain_until", "ObjectLockRetainUntilDate", "time"), ("legal_hold", "ObjectLockLegalHoldStatus", "text"),
    ("storage_class", "StorageClass", "text"), ("checksum_algorithm", "ChecksumAlgorithm", "text"),
)
REQUIRED_FIELDS = ("Bucket", "Key", "VersionId", "IsLatest", "IsDeleteMarker", "Size", "LastModifiedDate")


class ReportUnusable(Unobservable):
    """No report, or one that cannot answer the question (a field missing, current versions only)."""


@dataclass
class InventoryReport:
    """One report: its manifest and local copies of its data files."""

    manifest: dict[str, Any]
    files: list[Path]
    location: str = ""
    columns: list[fmt.Field] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.manifest.get("version") != fmt.MANIFEST_VERSION:
            raise ReportUnusable(f"{self.location}: manifest version {self.manifest.get('version')!r} is not "
                                 f"{fmt.MANIFEST_VERSION}")
        self.file_format = str(self.manifest.get("fileFormat", ""))
        if self.file_format not in ("CSV", "Parquet"):
            raise ReportUnusable(f"{self.location}: {self.file_format or 'unknown'} inventory files are not read "
                                 "(CSV and Parquet are)")
        try:
            self.columns = fmt.schema_columns(self.file_format, str(self.manifest.get("fileSchema", "")))
        except ValueError as exc:
            raise ReportUnusable(f"{self.location}: {exc}") from exc
        names = {c.name for c in self.columns}
        lacking = [n for n in REQUIRED_FIELDS if n not in names]
        if lacking:
            raise ReportUnusable(f"{self.location}: the report lacks {', '.join(lacking)} (configure an "
                                 "all-versions inventory with Size and LastModifiedDate)")

    @property
    def source_bucket(self) -> str:
        return str(self.manifest.get("sourceBucket", ""))

    def has(self, name: str) -> bool:
        return any(c.name == name for c in self.columns)

    def normalized_select(self) -> str:
        """A DuckDB SELECT over the data files with the normalised columns."""
        paths = "[" + ", ".join(_lit(str(p)) for p in self.files) + "]"
        present = {c.name: c for c in self.columns}
        if self.file_format == "CSV":
            cols = "{" + ", ".join(f"{_lit(c.column)}: 'VARCHAR'" for c in self.columns) + "}"
            source = (f"read_csv({paths}, header=false, quote='\"', escape='\"', delim=',', columns={cols}, "
                      "compression='gzip', auto_detect=false, null_padding=false, buffer_size=2097152)")
        else:
            source = f"read_parquet({paths})"
        exprs = []
        for name, src, kind in NORMALIZED:
            if src not in present:
                exprs.append(f"NULL AS {name}")
                continue
            col = f'"{present[src].column}"'
            exprs.append(f"{_convert(col, kind, self.file_format)} AS {name}")
        return f"SELECT {', '.join(exprs)} FROM {source}"


def _convert(col: str, kind: str, file_format: str) -> str:
    if file_format != "CSV":
        if kind == "time":
            return f"CAST({col} AS TIMESTAMP)"
        if kind == "version":
            return f"coalesce({col}, 'null')"
        return col
    text = f"nullif({col}, '')"
    return {
        "text": text,
        # CSV keys are URL-encoded (form style: '+' is a space, as Athena's url_decode reads it).
        "key": f"url_decode(replace({col}, '+', '%20'))",
        "version": f"coalesce({text}, 'null')",
        "bool": f"(lower({col}) = 'true')",
        "int": f"CAST({text} AS BIGINT)",
        "time": f"CAST(CAST({text} AS TIMESTAMPTZ) AS TIMESTAMP)",
    }[kind]


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


# --------------------------------------------------------------------------- finding reports

@dataclass(frozen=True)
class InventoryLocation:
    """Where a bucket's inventory configuration delivers."""

    source_bucket: str
    config_id: str
    destination_bucket: str
    prefix: str
    file_format: str

    @property
    def base(self) -> str:
        return fmt.report_prefix(self.prefix, self.source_bucket, self.config_id)


def locate(s3: Any, bucket: str) -> InventoryLocation:
    """The bucket's enabled all-versions inventory configuration (Unobservable when none)."""
    try:
        resp = call(f"ListBucketInventoryConfigurations {bucket}", s3.list_bucket_inventory_configurations,
                    resource=bucket, Bucket=bucket)
    except ClientError as exc:
        raise InfraError(f"ListBucketInventoryConfigurations {bucket}: {exc}") from exc
    configs = [c for c in resp.get("InventoryConfigurationList", []) or []
               if c.get("IsEnabled") and c.get("IncludedObjectVersions") == "All"]
    if not configs:
        raise ReportUnusable(f"{bucket} has no enabled all-versions S3 Inventory configuration")
    chosen = sorted(configs, key=lambda c: c["Id"])[0]
    dest = chosen["Destination"]["S3BucketDestination"]
    return InventoryLocation(bucket, chosen["Id"], dest["Bucket"].rsplit(":", 1)[-1], dest.get("Prefix", ""),
                             dest.get("Format", "CSV"))


def newest_folder(s3: Any, where: InventoryLocation) -> str:
    """The newest dated report folder (``<base>YYYY-MM-DDTHH-MMZ/``); ReportUnusable when none."""
    folders: list[str] = []
    kwargs: dict[str, Any] = {"Bucket": where.destination_bucket, "Prefix": where.base, "Delimiter": "/"}
    while True:
        page = _s3_call(f"ListObjectsV2 s3://{where.destination_bucket}/{where.base}", s3.list_objects_v2, **kwargs)
        folders += [p["Prefix"] for p in page.get("CommonPrefixes", []) or []]
        if not page.get("IsTruncated"):
            break
        kwargs["ContinuationToken"] = page["NextContinuationToken"]
    dated = sorted(f for f in folders if f[len(where.base):-1] not in ("data", "hive"))
    if not dated:
        raise ReportUnusable(f"no S3 Inventory report of {where.source_bucket} under "
                             f"s3://{where.destination_bucket}/{where.base} yet")
    return dated[-1]


def fetch_latest(s3: Any, where: InventoryLocation, workdir: Path) -> InventoryReport:
    """Download the newest report of ``where`` into ``workdir``, checking every MD5."""
    folder = newest_folder(s3, where)
    location = f"s3://{where.destination_bucket}/{folder}manifest.json"
    document = _get(s3, where.destination_bucket, f"{folder}manifest.json")
    checksum = _get(s3, where.destination_bucket, f"{folder}manifest.checksum").decode().strip()
    if hashlib.md5(document).hexdigest() != checksum:
        raise InfraError(f"{location}: manifest.checksum does not match the manifest (a partial delivery?)")
    manifest = json.loads(document)
    workdir.mkdir(parents=True, exist_ok=True)
    files = []
    for n, entry in enumerate(manifest.get("files", [])):
        suffix = ".csv.gz" if manifest.get("fileFormat") == "CSV" else ".parquet"
        path = workdir / f"{where.source_bucket}-{n}{suffix}"
        body = _s3_call(f"GetObject s3://{where.destination_bucket}/{entry['key']}", s3.get_object,
                        Bucket=where.destination_bucket, Key=entry["key"])["Body"]
        digest = hashlib.md5()
        with path.open("wb") as fh:                     # streamed: data files can be large
            for chunk in body.iter_chunks(1 << 20):
                digest.update(chunk)
                fh.write(chunk)
        if digest.hexdigest() != entry.get("MD5checksum"):
            raise InfraError(f"{location}: data file {n} does not match its MD5checksum")
        files.append(path)
    return InventoryReport(manifest, files, location)


def load_local(manifest_path: Path) -> InventoryReport:
    """A report whose manifest and data files sit in a local folder (data files by basename)."""
    manifest = json.loads(manifest_path.read_text())
    folder = manifest_path.parent
    files = [folder / Path(entry["key"]).name for entry in manifest.get("files", [])]
    return InventoryReport(manifest, files, str(manifest_path))


def _get(s3: Any, bucket: str, key: str) -> bytes:
    return _s3_call(f"GetObject s3://{bucket}/{key}", s3.get_object, Bucket=bucket, Key=key)["Body"].read()


def _s3_call(what: str, fn: Any, **kwargs: Any) -> Any:
    try:
        return call(what, fn, resource=kwargs.get("Bucket"), **kwargs)
    except ClientError as exc:
        raise InfraError(f"{what}: {exc}") from exc


BYTES_PER_ROW = 50          # gzip CSV / Parquet rows of an all-versions report (measured: ~50 bytes)


def estimated_rows(obs: Any) -> int:
    """About how many rows the archive's newest inventory report holds (from its files' sizes)."""
    o = obs.outputs
    s3 = obs.client("s3", o.primaryRegion)
    where = locate(s3, o.archiveBucket)
    manifest = json.loads(_get(s3, where.destination_bucket, f"{newest_folder(s3, where)}manifest.json"))
    return sum(int(f.get("size", 0)) for f in manifest.get("files", [])) // BYTES_PER_ROW
