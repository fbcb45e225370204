"""Failback: writes accepted by the DR region while the primary was down go back to it.

If the stack replicates the replica bucket back to the archive (``drkit:replication.failback``:
an Enabled rule on the replica bucket with the archive as destination), the drill waits for
those copies; otherwise it copies each DR-era write itself (GET from DR, PUT into the
archive with its SHA-256 checksum), writing only the drill's own keys.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from drills.engine.clock import poll
from drills.engine.model import ProbeResult, Status
from drills.engine.registry import action
from drills.probes import listing


def _plan(run: Any, **_: Any) -> list[str]:
    out = run.ctx.outputs
    return [f"s3:GetObject from {out.replicaBucket} + s3:PutObject into {out.archiveBucket} for the run's "
            "DR-era drill writes (unless failback replication copies them)"]


@action("failback-copy", {}, plan=_plan)
def failback_copy(run: Any) -> ProbeResult:
    """Bring DR-era writes back to the primary (failback replication, or a copy step)."""
    ctx = run.ctx
    out = ctx.outputs
    dr_writes = [w for w in run.state.get("writes", []) if w["region"] == "dr"]
    if not dr_writes:
        return ProbeResult(Status.PASSED, {"dr_writes": 0, "method": "none needed"})
    src, dr = ctx.client("s3", out.primaryRegion), ctx.client("s3", out.drRegion)
    if _failback_replication(dr, out):
        keys = {(w["key"], w["version_id"]) for w in dr_writes}
        result = poll(ctx.clock, lambda: keys <= listing.ids(listing.versions(src, out.archiveBucket, ctx.drill_prefix)),
                      timeout_s=run.timeout_s, interval_s=30)
        status = Status.PASSED if result.satisfied else Status.FAILED
        return ProbeResult(status, {"dr_writes": len(dr_writes), "method": "failback replication"},
                           reason="" if result.satisfied else "failback replication did not copy every DR-era write")
    copied = 0
    for write in dr_writes:
        body = dr.get_object(Bucket=out.replicaBucket, Key=write["key"], VersionId=write["version_id"])["Body"].read()
        src.put_object(Bucket=out.archiveBucket, Key=write["key"], Body=body, ChecksumAlgorithm="SHA256",
                       ChecksumSHA256=write["checksum"],
                       ContentType="application/dicom")
        copied += 1
    return ProbeResult(Status.PASSED, {"dr_writes": len(dr_writes), "copied": copied, "method": "copy step"})


def _failback_replication(dr: Any, out: Any) -> bool:
    try:
        rules = dr.get_bucket_replication(Bucket=out.replicaBucket)["ReplicationConfiguration"]["Rules"]
    except ClientError:
        return False
    return any(r.get("Status") == "Enabled" and r.get("Destination", {}).get("Bucket", "").endswith(f":{out.archiveBucket}")
               for r in rules)
