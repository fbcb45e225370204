"""Drill probes: what the failover and replication drills observe (not the verification ladder).

Each probe is a function over boto3 (and, on the embedded cloud, the control protocol's
status, read-only) registered by name; see ``drills.engine.registry``. Outputs carry counts
and opaque labels (``instance-<n>``, ``canary-<n>``), never patient data.
"""

from __future__ import annotations

import hashlib
from typing import Any

from drills.actions.canaries import canary_prefix, pool_source
from drills.engine.clock import iso, poll
from drills.engine.model import Finding, ProbeResult, Severity, Status
from drills.engine.registry import probe
from drills.probes import listing
from drills.probes.health import region_refused
from drills.probes.common import Expected, boto_errors, head_check, measure, seconds


def _scope_expected(run: Any) -> list[Expected]:
    """The in-scope instances: the run's manifest (version, stored checksum, SHA-256 of the
    source bytes), else the steady-state snapshot — then only presence, version and REPLICA
    status can be checked, and sampled downloads only prove readable bytes."""
    ctx = run.ctx
    if ctx.manifest is not None and len(ctx.manifest):
        return [Expected(i.label, i.key, i.version_id, i.checksum_sha256, i.size, i.sha256_hex)
                for i in ctx.manifest.instances if ctx.in_scope(i.key)]
    snapshot = run.state.get("snapshot", [])
    return [Expected(f"instance-{n}", v.key, v.version_id, None, v.size)
            for n, v in enumerate(v for v in snapshot if v.latest and not v.delete_marker)]


@probe("replica-parity", {})
def replica_parity(run: Any) -> ProbeResult:
    """Every source version in scope is in the DR replica (by version id), from listings."""
    ctx = run.ctx
    out = ctx.outputs
    try:
        source = listing.versions(ctx.client("s3", out.primaryRegion), out.archiveBucket, ctx.scope_prefix)
        replica = listing.versions(ctx.client("s3", out.drRegion), out.replicaBucket, ctx.scope_prefix)
    except boto_errors() as exc:
        return ProbeResult(Status.NOT_VERIFIED, {}, reason=f"cannot list: {exc}")
    run.state["snapshot"] = source
    missing = listing.ids(source) - listing.ids(replica)
    output = {"prefix": ctx.scope_prefix, "source_versions": len(source), "replica_versions": len(replica),
              "missing": len(missing)}
    if not source:
        return ProbeResult(Status.NOT_VERIFIED, output, reason=f"nothing under {ctx.scope_prefix} to compare")
    findings = ()
    if missing:
        findings = (Finding("replica-missing-versions", Severity.HIGH, out.replicaBucket,
                            f"{len(missing)} source version(s) under {ctx.scope_prefix} are not in the replica",
                            {"count": len(missing)}),)
    return ProbeResult(Status.PASSED if not missing else Status.FAILED, output, findings)


@probe("detect-outage", {"intervalSeconds": {"type": "number", "minimum": 1, "maximum": 600}})
def detect_outage(run: Any, intervalSeconds: float = 10.0) -> ProbeResult:
    """Health-check the primary until it fails; the disaster is declared then."""
    ctx = run.ctx
    result = poll(ctx.clock, lambda: region_refused(ctx, ctx.outputs.primaryRegion)[0], timeout_s=run.timeout_s,
                  interval_s=intervalSeconds)
    if not result.satisfied:
        return ProbeResult(Status.FAILED, {}, reason="the primary kept answering: no outage to declare")
    run.state["declared_at"] = result.at
    loss = run.state.get("loss_at", result.at)
    run.phase("detect", loss, result.at)
    return ProbeResult(Status.PASSED, {"declared": iso(result.at), "checks": result.attempts,
                                       "detect_s": (result.at - loss).total_seconds()})


@probe("rpo-at-loss", {})
def rpo_at_loss(run: Any) -> ProbeResult:
    """Acknowledged writes not in the DR region at the moment of loss: count, bytes, oldest age."""
    ctx = run.ctx
    out = ctx.outputs
    loss = run.state.get("loss_at")
    if loss is None:
        return ProbeResult(Status.NOT_VERIFIED, {}, reason="no region loss was recorded before this probe")
    dr = ctx.client("s3", out.drRegion)
    try:
        in_dr = listing.ids(listing.versions(dr, out.replicaBucket, canary_prefix(run)))
        in_dr |= listing.ids(listing.versions(dr, out.replicaBucket, ctx.scope_prefix))
    except boto_errors() as exc:
        return ProbeResult(Status.NOT_VERIFIED, {}, reason=f"cannot list the DR replica: {exc}")
    lost: list[dict[str, Any]] = []
    for write in run.state.get("writes", []):
        if write["region"] == "primary" and write["acked"] <= loss and (write["key"], write["version_id"]) not in in_dr:
            lost.append({"label": write["label"], "bytes": write["size"], "age_s": (loss - write["acked"]).total_seconds()})
    for n, version in enumerate(v for v in run.state.get("snapshot", []) if not v.delete_marker):
        if (version.key, version.version_id) not in in_dr and version.modified is not None:
            lost.append({"label": f"instance-{n}", "bytes": version.size,
                         "age_s": max((loss - version.modified).total_seconds(), 0.0)})
    acked = sum(1 for w in run.state.get("writes", []) if w["region"] == "primary" and w["acked"] <= loss)
    window = max((x["age_s"] for x in lost), default=0.0)
    objective = seconds(out.objectives.rpoMinutes)
    detail = {"lost_count": len(lost), "lost_bytes": sum(x["bytes"] for x in lost),
              "lost": sorted(lost, key=lambda x: -x["age_s"]), "acknowledged_drill_writes": acked,
              "at": iso(loss), "observed": "DR replica listing at the moment of loss",
              "drill_writes_from": pool_source(run)[1]}
    measure(run, "rpo", window, objective, **detail)
    findings = ()
    if lost:
        findings = (Finding("acknowledged-writes-not-in-dr", Severity.HIGH if window > objective else Severity.INFO,
                            out.replicaBucket, f"{len(lost)} acknowledged write(s) were not in the DR region when "
                            f"the primary was lost (oldest {window:.0f} s)", {"labels": [x["label"] for x in lost]}),)
    return ProbeResult(Status.PASSED, {"lost_count": len(lost), "lost_bytes": detail["lost_bytes"],
                                       "window_s": window, "objective_s": objective}, findings)


@probe("verify-from-dr", {"sample": {"type": "integer", "minimum": 0, "maximum": 1000}})
def verify_from_dr(run: Any, sample: int = 5) -> ProbeResult:
    """Every in-scope study readable and intact from the DR region (HEAD + stored SHA-256,
    a sample downloaded and hashed); RTO = declared until the last study verified."""
    ctx = run.ctx
    out = ctx.outputs
    declared = run.state.get("declared_at")
    if declared is None:
        return ProbeResult(Status.NOT_VERIFIED, {}, reason="no disaster was declared before this probe")
    s3 = ctx.client("s3", out.drRegion)
    expected = _scope_expected(run)
    loss = run.state.get("loss_at", declared)
    dr_keys = listing.ids(listing.versions(s3, out.replicaBucket, canary_prefix(run)))
    canaries = [Expected(w["label"], w["key"], w["version_id"], w["checksum"], w["size"])
                for w in run.state.get("writes", []) if w["region"] == "primary" and w["acked"] <= loss
                and (w["key"], w["version_id"]) in dr_keys and not _deleted(run, w["key"])]
    if not expected:
        return ProbeResult(Status.NOT_VERIFIED, {}, reason="no in-scope instances are known to verify")
    studies: dict[str, list[Expected]] = {}
    for item in expected + canaries:
        studies.setdefault(item.study, []).append(item)
    first_at = None
    bad: dict[str, list[str]] = {"missing": [], "mismatch": [], "not_replica": []}
    verified_studies = 0
    for study_items in studies.values():
        result = head_check(s3, out.replicaBucket, study_items, want_replica=True)
        for kind in bad:
            bad[kind] += result[kind]
        if len(result["ok"]) == len(study_items):
            verified_studies += 1
            first_at = first_at or ctx.clock.now()
    sampled, sample_bad = _sample(s3, out.replicaBucket, expected, sample)
    end = ctx.clock.now()
    if first_at is not None:
        run.phase("first study served", declared, first_at)
    run.phase("all verified", declared, end)
    failed = sum(len(v) for v in bad.values()) + len(sample_bad)
    rto = (end - declared).total_seconds()
    measure(run, "rto", rto, seconds(out.objectives.rtoMinutes), met=False if failed else None,
            studies=len(studies), studies_verified=verified_studies, instances=len(expected) + len(canaries),
            unverified=failed, note="reads take no time on the virtual clock" if ctx.clock.simulated else "")
    output = {"studies": len(studies), "studies_verified": verified_studies, "instances": len(expected),
              "canaries": len(canaries), "sampled": sampled, **{k: len(v) for k, v in bad.items()},
              "sample_mismatch": len(sample_bad)}
    if failed:
        finding = Finding("dr-read-verification-failed", Severity.CRITICAL, out.replicaBucket,
                          f"{failed} instance(s) could not be read intact from the DR region",
                          {k: v[:50] for k, v in bad.items() if v} | {"sample_mismatch": sample_bad[:50]})
        return ProbeResult(Status.FAILED, output, (finding,))
    return ProbeResult(Status.PASSED, output)


def _sample(s3: Any, bucket: str, items: list[Expected], count: int) -> tuple[int, list[str]]:
    """Download ``count`` instances spread over the list; compare the bytes' SHA-256."""
    if not count or not items:
        return 0, []
    step = max(len(items) // count, 1)
    chosen = items[::step][:count]
    bad = []
    for item in chosen:
        kwargs = {"Bucket": bucket, "Key": item.key, **({"VersionId": item.version_id} if item.version_id else {})}
        try:
            body = s3.get_object(**kwargs)["Body"].read()
        except boto_errors():
            bad.append(item.label)
            continue
        digest = hashlib.sha256(body)
        if item.sha256_hex and digest.hexdigest() != item.sha256_hex:
            bad.append(item.label)
    return len(chosen), bad


def _deleted(run: Any, key: str) -> bool:
    return any(d["key"] == key for d in run.state.get("deleted", []))


@probe("dr-consistency", {"graceSeconds": {"type": "number", "minimum": 0}})
def dr_consistency(run: Any, graceSeconds: float = 900.0) -> ProbeResult:
    """The DR view agrees with what the primary acknowledged: objects deleted (delete marker)
    more than ``graceSeconds`` before the loss must not be served from DR."""
    ctx = run.ctx
    out = ctx.outputs
    loss = run.state.get("loss_at")
    if loss is None:
        return ProbeResult(Status.NOT_VERIFIED, {}, reason="no region loss was recorded before this probe")
    deletions = [d for d in run.state.get("deleted", []) if (loss - d["at"]).total_seconds() >= graceSeconds]
    if not deletions:
        return ProbeResult(Status.NOT_VERIFIED, {"deletions": 0},
                           reason="no deletion old enough to check (the method must delete an object earlier)")
    latest = listing.latest(listing.versions(ctx.client("s3", out.drRegion), out.replicaBucket, canary_prefix(run)))
    resurrected = [d["label"] for d in deletions if d["key"] in latest and not latest[d["key"]].delete_marker]
    output = {"deletions_checked": len(deletions), "served_after_delete": len(resurrected)}
    if resurrected:
        finding = Finding("dr-serves-deleted-objects", Severity.HIGH, out.replicaBucket,
                          f"{len(resurrected)} object(s) deleted in the primary are still served from DR: "
                          "delete markers are not replicated", {"labels": resurrected},
                          remediation="enable DeleteMarkerReplication on the replication rules (drkit:replication.deleteMarkers)")
        return ProbeResult(Status.FAILED, output, (finding,))
    return ProbeResult(Status.PASSED, output)
