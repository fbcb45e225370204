"""Synthetic S3 Inventory report pairs (archive, replica) in AWS's CSV layout, with planted
defects, written by DuckDB itself (no Python row loop): for reconciliation tests and benchmarks
at millions of rows.

Each side: ``<out>/<side>/manifest.json`` (+ ``manifest.checksum``) and one ``data.csv.gz``
(no header, every value quoted), columns: Bucket, Key, VersionId, IsLatest, IsDeleteMarker,
Size, LastModifiedDate, ETag, StorageClass, ReplicationStatus, EncryptionStatus,
ObjectLockRetainUntilDate, ObjectLockMode, ObjectLockLegalHoldStatus, ChecksumAlgorithm.
Instance ``i`` lives at ``dicom/2.25.<i // 500>/2.25.<i // 50>/2.25.<i>.dcm``.

Planted (``per_kind`` of each, spread evenly): ``missing`` (no replica row), ``altered``
(replica size differs), ``extra`` (a replica-only row), ``failed`` (archive FAILED, no
replica row), ``unlocked`` (replica without Object Lock).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from drills import s3_inventory as fmt

FIELDS = ("Size", "LastModifiedDate", "ETag", "StorageClass", "ReplicationStatus", "EncryptionStatus",
          "ObjectLockRetainUntilDate", "ObjectLockMode", "ObjectLockLegalHoldStatus", "ChecksumAlgorithm")
KINDS = ("missing", "altered", "extra", "failed", "unlocked")


@dataclass
class GeneratedPair:
    archive_manifest: Path
    replica_manifest: Path
    rows: int
    planted: dict[str, list[str]] = field(default_factory=dict)      # kind -> labels (key@version)


def _key(i: str) -> str:
    return f"'dicom/2.25.' || ({i} // 500) || '/2.25.' || ({i} // 50) || '/2.25.' || {i} || '.dcm'"


def generate_pair(out: Path, rows: int, per_kind: int = 10, threads: int = 2,
                  memory_limit: str = "256MB") -> GeneratedPair:
    import duckdb

    if rows < per_kind * len(KINDS) * 4:
        raise ValueError(f"{rows} rows are too few to plant {per_kind} defects of each kind")
    stride = rows // per_kind
    offsets = {kind: 1 + n * max(1, stride // (len(KINDS) + 1)) for n, kind in enumerate(KINDS)}
    out.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(config={"threads": threads, "memory_limit": memory_limit,
                                 "temp_directory": str(out / "spill"), "preserve_insertion_order": False})
    con.execute("SET enable_progress_bar=false")
    is_kind = {kind: f"(i % {stride} = {off})" for kind, off in offsets.items()}
    vid = "md5(CAST(i AS VARCHAR))"
    common = ("'true', 'false', CAST(size AS VARCHAR), '2026-01-15T10:00:00.000Z', md5(CAST(i AS VARCHAR) || 'e'), "
              "'STANDARD', {status}, 'SSE-KMS', {until}, {mode}, 'OFF', 'SHA256'")
    archive = (f"SELECT 'archive-bucket', {_key('i')}, {vid}, "
               + common.format(status=f"CASE WHEN {is_kind['failed']} THEN 'FAILED' ELSE 'COMPLETED' END",
                               until="'2036-01-15T10:00:00.000Z'", mode="'COMPLIANCE'")
               + f" FROM (SELECT i, 500000 + i % 1000 AS size FROM range({rows}) r(i)) s")
    replica = (f"SELECT 'replica-bucket', {_key('i')}, {vid}, "
               + common.format(status="'REPLICA'",
                               until=f"CASE WHEN {is_kind['unlocked']} THEN '' ELSE '2036-01-15T10:00:00.000Z' END",
                               mode=f"CASE WHEN {is_kind['unlocked']} THEN '' ELSE 'COMPLIANCE' END")
               + f" FROM (SELECT i, CASE WHEN {is_kind['altered']} THEN 1 ELSE 0 END + 500000 + i % 1000 AS size "
               f"FROM range({rows + per_kind}) r(i) "
               f"WHERE i >= {rows} OR NOT ({is_kind['missing']} OR {is_kind['failed']})) s")
    # replica-only rows: the per_kind instances numbered rows..rows+per_kind-1
    schema = fmt.csv_schema(fmt.fields_for(FIELDS, all_versions=True))
    manifests = []
    for side, select in (("archive", archive), ("replica", replica)):
        folder = out / side
        folder.mkdir(exist_ok=True)
        data = folder / "data.csv.gz"
        con.execute(f"COPY ({select}) TO '{data}' (FORMAT CSV, HEADER false, QUOTE '\"', FORCE_QUOTE *, "
                    "COMPRESSION gzip)")
        body = data.read_bytes() if data.stat().st_size < 64 * 2**20 else None
        md5 = hashlib.md5(body).hexdigest() if body is not None else _md5_file(data)
        manifest = {"sourceBucket": f"{side}-bucket", "destinationBucket": f"arn:aws:s3:::{side}-inventory",
                    "version": fmt.MANIFEST_VERSION, "creationTimestamp": "1768471200000", "fileFormat": "CSV",
                    "fileSchema": schema,
                    "files": [{"key": f"inventory/{side}-bucket/all/data/data.csv.gz",
                               "size": data.stat().st_size, "MD5checksum": md5}]}
        document = json.dumps(manifest, indent=2).encode()
        (folder / "manifest.json").write_bytes(document)
        (folder / "manifest.checksum").write_text(hashlib.md5(document).hexdigest())
        manifests.append(folder / "manifest.json")
    labels: dict[str, list[str]] = {}
    for kind in KINDS:      # one statement per kind (a statement per label took minutes at 100,000s)
        start, stop, step = (rows, rows + per_kind, 1) if kind == "extra" else (offsets[kind], rows, stride)
        labels[kind] = [row[0] for row in con.execute(
            f"SELECT {_key('i')} || '@' || {vid} FROM range({start}, {stop}, {step}) r(i) ORDER BY i").fetchall()]
    con.close()
    return GeneratedPair(manifests[0], manifests[1], rows, labels)


def _md5_file(path: Path) -> str:
    digest = hashlib.md5()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
