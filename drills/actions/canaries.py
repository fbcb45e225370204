"""Drill writes ("canaries"): DICOM instances the drill itself writes, under the stack's drill
prefix only (``<drill prefix><run id>/<study>/<series>/<sop>.dcm``, the archive layout), so a
drill never changes production keys. Each write is acknowledged (the PUT returned, with a
SHA-256 checksum S3 verified) at a time read from the drill clock; probes later ask which
acknowledged writes reached the DR region. Labels are opaque (``canary-<n>``).
"""

from __future__ import annotations

import base64
import hashlib
import tempfile
import zlib
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from drills.engine.clock import iso
from drills.engine.model import ProbeResult, Status
from drills.engine.registry import action

_POOL_STUDIES = 2


def canary_prefix(run: Any) -> str:
    return f"{run.ctx.drill_prefix}{run.ctx.run_id}/"


def pool_source(run: Any) -> tuple[int, str]:
    """The synth seed of the drill-write pool and what it derives from: the run's ``--seed``
    (``ctx.seed``), so two runs with one seed write the same bytes and measure the same
    figures (sizes feed the RPO's lost bytes); only without one, the run id (varies per run).
    The derivation keeps the pool apart from the ingested data set of that same seed."""
    seed = run.ctx.seed
    if seed is None:
        return zlib.crc32(run.ctx.run_id.encode()) & 0xFFFF, "run id (no seed given: content varies per run)"
    return zlib.crc32(f"drkit-canaries/{seed}".encode()) & 0xFFFF, f"seed {seed}"


def _pool(run: Any) -> list[tuple[str, bytes]]:
    """(relative archive path, bytes) of synthetic instances, made once per run."""
    cache = run.ctx.cache.setdefault("canary_pool", [])
    if not cache:
        from drills.synth.dataset import generate
        with tempfile.TemporaryDirectory(prefix="drkit-canaries-") as tmp:
            manifest = generate(Path(tmp) / "set", _POOL_STUDIES, seed=pool_source(run)[0])
            for entry in manifest.entries:
                data = (manifest.root / entry.path).read_bytes()
                cache.append((f"{entry.study_instance_uid}/{entry.series_instance_uid}/{entry.sop_instance_uid}.dcm",
                              data))
    return cache


def _plan(run: Any, region: str = "primary", count: int = 1, **_: Any) -> list[str]:
    bucket = run.ctx.outputs.archiveBucket if region == "primary" else run.ctx.outputs.replicaBucket
    return [f"s3:PutObject x{count} into {bucket} under {canary_prefix(run)} (drill data only)"]


@action("write-canaries", {
    "count": {"type": "integer", "minimum": 1, "maximum": 200},
    "spacingSeconds": {"type": "number", "minimum": 0, "maximum": 3600},
    "region": {"enum": ["primary", "dr"]},
    "deleteAfter": {"type": "integer", "minimum": 1},
}, required=["count", "region"], plan=_plan)
def write_canaries(run: Any, count: int, region: str, spacingSeconds: float = 0.0,
                   deleteAfter: int | None = None) -> ProbeResult:
    """Write drill instances one by one, spaced on the drill clock (ingest under way)."""
    ctx = run.ctx
    out = ctx.outputs
    bucket, region_name = ((out.archiveBucket, out.primaryRegion) if region == "primary"
                           else (out.replicaBucket, out.drRegion))
    s3 = ctx.client("s3", region_name)
    writes = run.state.setdefault("writes", [])
    pool = _pool(run)
    written, first_at = 0, None
    for _ in range(count):
        n = len(writes)
        rel, data = pool[n % len(pool)]
        key = f"{canary_prefix(run)}{n:04d}/{rel}"
        checksum = base64.b64encode(hashlib.sha256(data).digest()).decode()
        try:
            resp = s3.put_object(Bucket=bucket, Key=key, Body=data, ChecksumAlgorithm="SHA256", ChecksumSHA256=checksum,
                                 ContentType="application/dicom")
        except (ClientError, BotoCoreError) as exc:
            return ProbeResult(Status.FAILED, {"written": written, "bucket": bucket},
                               reason=f"write {n} into {bucket} refused: {exc}")
        acked = ctx.clock.now()
        first_at = first_at or acked
        writes.append({"label": f"canary-{n}", "key": key, "version_id": resp.get("VersionId"), "size": len(data),
                       "checksum": checksum, "acked": acked, "region": region, "bucket": bucket})
        written += 1
        if deleteAfter and written == deleteAfter:
            _delete_first(run, s3, bucket)
        if spacingSeconds and written < count:
            ctx.clock.wait(spacingSeconds)
    if region == "dr" and first_at is not None:
        run.state.setdefault("dr_ingest_at", first_at)
    retained = _locked_retention(s3, bucket)
    return ProbeResult(Status.PASSED, {"written": written, "bucket": bucket, "region": region_name,
                                       "retained_under_object_lock": {"count": written, **retained} if retained else None,
                                       "first": iso(first_at) if first_at else None,
                                       "prefix": canary_prefix(run), "spacing_s": spacingSeconds,
                                       "content_from": pool_source(run)[1],
                                       "deleted": len(run.state.get("deleted", []))})


def _locked_retention(s3: Any, bucket: str) -> dict[str, Any] | None:
    """The bucket's default Object Lock retention, if any: drill writes stay until it expires
    (rollbacks never bypass a lock), so the journal lists them."""
    try:
        rule = s3.get_object_lock_configuration(Bucket=bucket)["ObjectLockConfiguration"].get("Rule", {})
    except (ClientError, BotoCoreError):
        return None
    retention = rule.get("DefaultRetention")
    if not retention:
        return None
    return {"mode": retention.get("Mode"), "days": retention.get("Days"), "years": retention.get("Years"),
            "note": "drill writes under this prefix cannot be deleted by rollbacks until their retention ends"}


def _delete_first(run: Any, s3: Any, bucket: str) -> None:
    """Delete (without a version id: a delete marker) the run's first canary — a deletion the
    DR copy must also show, if the stack replicates delete markers."""
    first = run.state["writes"][0]
    resp = s3.delete_object(Bucket=bucket, Key=first["key"])
    run.state.setdefault("deleted", []).append({"label": first["label"], "key": first["key"],
                                                "marker": resp.get("VersionId"), "at": run.ctx.clock.now()})
