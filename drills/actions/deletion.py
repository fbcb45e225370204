"""Accidental deletion: an operator bulk-deletes whole studies (simple deletes: a delete marker
on top of each instance, the versions stay), the loss is detected, and recovered by removing
the markers — in the primary and, where the stack replicated them, in the DR replica (removing
a marker by version id is a versioned delete, which S3 never replicates).

Detection here is the drill's own scan (the index lists instances the archive no longer
serves): the stack raises no alarm on deletions, and the journal says so. Times are simulated
on the embedded cloud.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from drills.engine.clock import iso, poll
from drills.engine.model import Finding, ProbeResult, Severity, Status
from drills.engine.registry import action, probe
from drills.probes import listing
from drills.probes.common import measure, seconds


def _studies(known: list[dict[str, Any]]) -> set[str]:
    return {i["study"] for i in known}


@action("delete-studies", {}, disruptive=True,
        plan=lambda run, **_: [f"s3:DeleteObjects (no version id: delete markers) of the sampled studies in "
                               f"{run.ctx.outputs.archiveBucket}"])
def delete_studies(run: Any) -> ProbeResult:
    """Bulk-delete every instance of the sampled studies (simple deletes → delete markers)."""
    ctx = run.ctx
    out = ctx.outputs
    known = run.state.get("known_good")
    if not known:
        return ProbeResult(Status.NOT_VERIFIED, {}, reason="no pre-incident manifest: run known-good-manifest first")
    s3 = ctx.client("s3", out.primaryRegion)
    run.state["incident_at"] = ctx.clock.now()
    markers: dict[str, str] = {}
    for start in range(0, len(known), 1000):
        batch = known[start:start + 1000]
        resp = s3.delete_objects(Bucket=out.archiveBucket,
                                 Delete={"Objects": [{"Key": i["key"]} for i in batch], "Quiet": False})
        for deleted in resp.get("Deleted", []):
            if deleted.get("DeleteMarker"):
                markers[deleted["Key"]] = deleted.get("DeleteMarkerVersionId")
        run.attempt("bulk-delete", "succeeded" if not resp.get("Errors") else "partial",
                    (resp.get("Errors") or [{}])[0].get("Code"), len(batch))
    run.state["markers"] = markers
    return ProbeResult(Status.PASSED, {"studies": len(_studies(known)), "instances": len(known),
                                       "delete_markers": len(markers), "at": iso(run.state["incident_at"])})


@probe("detect-deleted-studies", {"intervalSeconds": {"type": "number", "minimum": 1, "maximum": 3600}})
def detect_deleted_studies(run: Any, intervalSeconds: float = 300.0) -> ProbeResult:
    """Scan: indexed instances whose latest archive version is a delete marker. Measures
    detection time from the deletion; then watches the replica for the replicated markers."""
    ctx = run.ctx
    out = ctx.outputs
    known = run.state.get("known_good") or []
    if not known or "incident_at" not in run.state:
        return ProbeResult(Status.NOT_VERIFIED, {}, reason="no deletion was recorded before this probe")
    s3 = ctx.client("s3", out.primaryRegion)
    prefixes = sorted({i["key"].rsplit("/", 2)[0] + "/" for i in known})

    def scan() -> set[str]:
        gone = set()
        for prefix in prefixes:
            latest = listing.latest(listing.versions(s3, out.archiveBucket, prefix))
            gone |= {i["study"] for i in known if i["key"].startswith(prefix)
                     and (i["key"] not in latest or latest[i["key"]].delete_marker)}
        return gone

    result = poll(ctx.clock, scan, timeout_s=run.timeout_s, interval_s=intervalSeconds)
    if not result.satisfied:
        return ProbeResult(Status.FAILED, {}, reason="the deletion was not detected")
    incident = run.state["incident_at"]
    detect_s = (result.at - incident).total_seconds()
    run.phase("detect", incident, result.at)
    measure(run, "detection_time", detect_s, None, studies=len(result.value),
            method="drill scan: index entries whose archive object's latest version is a delete marker",
            note="the stack raises no alarm on deletions; detection depends on a scan like this one")
    replica = _replica_effect(run, intervalSeconds)
    run.state["replica_markers"] = replica["markers"]
    return ProbeResult(Status.PASSED, {"studies_detected": len(result.value), "detect_s": detect_s,
                                       "scans": result.attempts, "replica_hidden_instances": len(replica["markers"]),
                                       "replica_still_served": replica["served"],
                                       "replica_observed_after_s": replica["after_s"]},
                       (Finding("deletion-replicated-to-dr", Severity.INFO, out.replicaBucket,
                                f"{len(replica['markers'])} delete marker(s) reached the DR replica: the studies "
                                "are hidden there too until the markers are removed on both sides",
                                {"count": len(replica["markers"])}),) if replica["markers"] else ())


def _replica_effect(run: Any, interval: float) -> dict[str, Any]:
    """Wait for the markers to replicate (up to the RPO + a margin); which keys does DR hide?"""
    ctx = run.ctx
    out = ctx.outputs
    markers: dict[str, str] = run.state.get("markers", {})
    replica = ctx.client("s3", out.drRegion)
    window = seconds(out.objectives.rpoMinutes) * 2

    def hidden() -> dict[str, str]:
        found = {}
        for key, marker in markers.items():
            try:
                replica.head_object(Bucket=out.replicaBucket, Key=key, VersionId=marker)
                found[key] = marker
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") in ("405", "MethodNotAllowed"):
                    found[key] = marker            # HEAD of a delete marker by version id: 405
        return found

    start = ctx.clock.now()
    result = poll(ctx.clock, lambda: len(hidden()) == len(markers) and hidden(), timeout_s=window,
                  interval_s=min(interval, 60.0))
    found = hidden()
    return {"markers": found, "served": len(markers) - len(found),
            "after_s": (ctx.clock.now() - start).total_seconds() if result.satisfied else None}


@action("remove-delete-markers", {}, disruptive=True,
        plan=lambda run, **_: [f"s3:DeleteObject by version id of the drill's delete markers in "
                               f"{run.ctx.outputs.archiveBucket} and {run.ctx.outputs.replicaBucket}"])
def remove_delete_markers(run: Any) -> ProbeResult:
    """Recover: remove the delete markers (by version id) in the primary and in the replica."""
    ctx = run.ctx
    out = ctx.outputs
    markers: dict[str, str] = run.state.get("markers") or {}
    if not markers:
        return ProbeResult(Status.NOT_VERIFIED, {}, reason="no delete markers were recorded")
    failed: list[str] = []
    removed = {"primary": 0, "replica": 0}
    places = (("primary", ctx.client("s3", out.primaryRegion), out.archiveBucket, markers),
              ("replica", ctx.client("s3", out.drRegion), out.replicaBucket, run.state.get("replica_markers", {})))
    for where, s3, bucket, todo in places:
        for key, marker in todo.items():
            try:
                s3.delete_object(Bucket=bucket, Key=key, VersionId=marker)
                removed[where] += 1
            except (ClientError, BotoCoreError):
                failed.append(f"{where}:{key.rsplit('/', 1)[-1][:12]}")
    end = ctx.clock.now()
    start = run.state.get("incident_at", end)
    run.phase("recovered", start, end)
    measure(run, "recovery_time", (end - start).total_seconds(), seconds(out.objectives.rtoMinutes),
            met=False if failed else None, markers_removed_primary=removed["primary"],
            markers_removed_replica=removed["replica"], note="deletes take no time on the virtual clock"
            if ctx.clock.simulated else "")
    output = {"removed_primary": removed["primary"], "removed_replica": removed["replica"], "failed": len(failed)}
    if failed:
        return ProbeResult(Status.FAILED, output, (Finding(
            "delete-markers-not-removed", Severity.HIGH, out.archiveBucket,
            f"{len(failed)} delete marker(s) could not be removed", {"count": len(failed)}),))
    return ProbeResult(Status.PASSED, output)
