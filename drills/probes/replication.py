"""Replication drill probes: detection of a replication stall, convergence after it, and
both sides equal after failback.

Detection has two methods, and the journal says which one observed it:
- ``cloudwatch-alarm``: the stack's replication alarms (``AWS/S3`` ReplicationLatency /
  OperationsPendingReplication on the archive bucket), read with DescribeAlarms, reach
  ALARM. Used when the target evaluates alarms: always on AWS; on the embedded cloud when
  its status lists an alarm-evaluating behaviour. S3 publishes these two metrics in the
  destination bucket's region (S3 user guide, "Using S3 Replication metrics"), so that is
  where the stack's alarms are; the alarms are read in both the DR and the primary region.
- ``replication-status``: otherwise, the drill HEADs the objects written during the fault
  and sees the condition those alarms watch itself: a copy PENDING for longer than the
  latency alarm's threshold (the RPO).

After convergence, the alarms that detected the stall are watched until they are back to
OK (noted as ``alarms-back-to-ok``, and ``alarms_back_to_ok`` in the probe's output).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from drills.actions.canaries import canary_prefix
from drills.engine.clock import iso, poll
from drills.engine.model import Finding, ProbeResult, Severity, Status
from drills.engine.registry import probe
from drills.probes import listing
from drills.probes.common import boto_errors, measure, seconds

_METRICS = ("ReplicationLatency", "OperationsPendingReplication")
DEFAULT_ALARM_PERIOD_S = 300.0
POLL_S = 60.0


def replication_alarms(run: Any) -> list[dict[str, Any]]:
    """The archive's latency and pending alarms, from DescribeAlarms in the DR region (where S3
    publishes those metrics, and the stack puts their alarms) and in the primary region; alarm
    names are reported as ``region/name`` when the two regions are read."""
    out = run.ctx.outputs
    regions = list(dict.fromkeys(r for r in (out.drRegion, out.primaryRegion) if r))
    found = []
    for region in regions:
        cw = run.ctx.client("cloudwatch", region)
        for page in cw.get_paginator("describe_alarms").paginate(AlarmTypes=["MetricAlarm"]):
            for alarm in page.get("MetricAlarms", []):
                dims = {d["Name"]: d["Value"] for d in alarm.get("Dimensions", [])}
                if alarm.get("Namespace") == "AWS/S3" and alarm.get("MetricName") in _METRICS \
                        and dims.get("SourceBucket") == out.archiveBucket:
                    found.append({**alarm, "AlarmName": f"{region}/{alarm['AlarmName']}"
                                  if len(regions) > 1 else alarm["AlarmName"]})
    return found


def alarms_evaluated(run: Any) -> bool:
    """AWS evaluates alarms; the embedded cloud does if a behaviour says it evaluates them."""
    if run.ctx.control is None:
        return True
    behaviours = run.ctx.control.status().get("behaviours", {})
    return any("alarm" in name for name in behaviours)


def _pause_writes(run: Any) -> list[dict[str, Any]]:
    start = run.state.get("fault_at")
    return [w for w in run.state.get("writes", []) if start is not None and w["acked"] >= start]


@probe("replication-delay-detected", {"detectWithinMinutes": {"type": "number", "exclusiveMinimum": 0}})
def delay_detected(run: Any, detectWithinMinutes: float | None = None) -> ProbeResult:
    """The RPO alarm condition is detected while replication is paused; detection time measured."""
    ctx = run.ctx
    start = run.state.get("fault_at")
    if start is None:
        return ProbeResult(Status.NOT_VERIFIED, {}, reason="no fault was injected before this probe")
    try:
        alarms = replication_alarms(run)
        evaluated = alarms_evaluated(run)
    except boto_errors() as exc:
        return ProbeResult(Status.NOT_VERIFIED, {}, reason=f"cannot read the replication alarms: {exc}")
    latency = [a for a in alarms if a["MetricName"] == "ReplicationLatency"]
    threshold = float(latency[0]["Threshold"]) if latency else seconds(ctx.outputs.objectives.rpoMinutes)
    period = float(latency[0].get("Period", DEFAULT_ALARM_PERIOD_S)) if latency else DEFAULT_ALARM_PERIOD_S
    # Default objective: the RPO, plus one alarm period for the datapoint that crosses it, plus
    # a minute for CloudWatch's evaluation and a minute for this probe's polling.
    objective = (seconds(detectWithinMinutes) if detectWithinMinutes
                 else seconds(ctx.outputs.objectives.rpoMinutes) + period + 2 * POLL_S)
    if evaluated and alarms:
        method = "cloudwatch-alarm"
        # Only an alarm that enters ALARM after the fault detects it: one already in ALARM (e.g.
        # breaching on missing data) says nothing about this stall and is reported instead.
        already = sorted(a["AlarmName"] for a in alarms if a["StateValue"] == "ALARM")

        def entered() -> list[str]:
            return [a["AlarmName"] for a in replication_alarms(run) if a["StateValue"] == "ALARM"
                    and a["AlarmName"] not in already and _after(a.get("StateUpdatedTimestamp"), start)]
        result = poll(ctx.clock, entered, timeout_s=run.timeout_s, interval_s=POLL_S)
        if result.satisfied:
            run.state["alarms_entered"] = list(result.value)
        if already:
            run.note("alarms-already-in-alarm", {"alarms": already})
    else:
        method = "replication-status"
        writes = _pause_writes(run)
        if not writes:
            return ProbeResult(Status.NOT_VERIFIED, {"method": method},
                               reason="no object was written during the fault to observe")
        result = poll(ctx.clock, lambda: _stalled(run, writes, threshold), timeout_s=run.timeout_s, interval_s=POLL_S)
    run.note("detection", {"method": method, "alarms": [a["AlarmName"] for a in alarms],
                           "alarms_evaluated_by_target": evaluated, "latency_threshold_s": threshold,
                           "detected": result.satisfied})
    output = {"method": method, "alarms": len(alarms), "latency_threshold_s": threshold,
              "objective_s": objective}
    if not result.satisfied:
        measure(run, "detection_time", None, objective, method=method, reason="not detected within the timeout")
        finding = Finding("replication-stall-undetected", Severity.HIGH, ctx.outputs.archiveBucket,
                          f"replication stalled but nothing detected it within {run.timeout_s:.0f} s ({method})",
                          {"method": method})
        return ProbeResult(Status.FAILED, output, (finding,), reason="replication stall not detected")
    detected_at = result.at
    elapsed = (detected_at - start).total_seconds()
    run.phase("detect", start, detected_at)
    measure(run, "detection_time", elapsed, objective, method=method, detected=iso(detected_at),
            signal=result.value if isinstance(result.value, list) else None)
    return ProbeResult(Status.PASSED, {**output, "detected": iso(detected_at), "detection_s": elapsed})


def _stalled(run: Any, writes: list[dict[str, Any]], threshold: float) -> dict[str, Any] | None:
    """The latency alarm's condition, observed: a copy PENDING longer than ``threshold``."""
    ctx = run.ctx
    s3 = ctx.client("s3", ctx.outputs.primaryRegion)
    now = ctx.clock.now()
    oldest = 0.0
    pending = 0
    for write in writes:
        head = s3.head_object(Bucket=write["bucket"], Key=write["key"], VersionId=write["version_id"])
        if head.get("ReplicationStatus") == "PENDING":
            pending += 1
            oldest = max(oldest, (now - write["acked"]).total_seconds())
    return {"pending": pending, "oldest_pending_s": oldest} if oldest > threshold else None


@probe("replication-converged", {"intervalSeconds": {"type": "number", "minimum": 1, "maximum": 600}})
def converged(run: Any, intervalSeconds: float = 10.0) -> ProbeResult:
    """After the fault ends, every object written during it reaches DR (same version, REPLICA).
    The convergence time is an upper bound: it is observed every ``intervalSeconds``."""
    ctx = run.ctx
    out = ctx.outputs
    end = run.state.get("fault_end_at")
    writes = _pause_writes(run)
    if end is None or not writes:
        return ProbeResult(Status.NOT_VERIFIED, {}, reason="no finished fault with writes during it to follow")
    dr = ctx.client("s3", out.drRegion)
    src = ctx.client("s3", out.primaryRegion)

    def state() -> dict[str, list[str]]:
        in_dr = listing.ids(listing.versions(dr, out.replicaBucket, canary_prefix(run)))
        groups: dict[str, list[str]] = {"replicated": [], "failed": [], "pending": []}
        for write in writes:
            if (write["key"], write["version_id"]) in in_dr:
                groups["replicated"].append(write["label"])
                continue
            head = src.head_object(Bucket=write["bucket"], Key=write["key"], VersionId=write["version_id"])
            groups["failed" if head.get("ReplicationStatus") == "FAILED" else "pending"].append(write["label"])
        return groups

    result = poll(ctx.clock, lambda: (lambda g: g if not g["pending"] else None)(state()),
                  timeout_s=run.timeout_s, interval_s=intervalSeconds)
    groups = result.value or state()
    objective = seconds(out.objectives.rpoMinutes)
    at = result.at
    value = (at - end).total_seconds() if result.satisfied else None
    if result.satisfied:
        run.phase("converged", end, at)
    measure(run, "convergence_time", value, objective, written=len(writes), resolution_s=intervalSeconds,
            **{k: len(v) for k, v in groups.items()})
    output = {"written_during_fault": len(writes), **{k: len(v) for k, v in groups.items()},
              "unaccounted": len(writes) - sum(len(v) for v in groups.values())}
    if result.satisfied and run.state.get("alarms_entered"):
        output["alarms_back_to_ok"] = _alarms_back_to_ok(run, run.state["alarms_entered"], at)
    if groups["failed"] or groups["pending"]:
        finding = Finding("pause-writes-not-replicated", Severity.HIGH, out.replicaBucket,
                          f"{len(groups['failed'])} failed and {len(groups['pending'])} still pending of "
                          f"{len(writes)} object(s) written during the fault",
                          {"failed": groups["failed"], "pending": groups["pending"]})
        return ProbeResult(Status.FAILED, output, (finding,))
    return ProbeResult(Status.PASSED, output)


def _alarms_back_to_ok(run: Any, names: list[str], since: datetime) -> bool:
    """The alarms that detected the stall return to OK once replication caught up (their
    period must first fill with good datapoints); noted in the journal either way."""
    period = max((float(a.get("Period", DEFAULT_ALARM_PERIOD_S)) for a in replication_alarms(run)
                  if a["AlarmName"] in names), default=DEFAULT_ALARM_PERIOD_S)

    def ok() -> list[str] | None:
        states = {a["AlarmName"]: a["StateValue"] for a in replication_alarms(run) if a["AlarmName"] in names}
        return sorted(states) if states and all(v == "OK" for v in states.values()) else None
    try:
        result = poll(run.ctx.clock, ok, timeout_s=2 * period + 2 * POLL_S, interval_s=POLL_S)
    except boto_errors() as exc:
        run.note("alarms-back-to-ok", {"alarms": names, "observed": False, "reason": str(exc)})
        return False
    run.note("alarms-back-to-ok", {"alarms": names, "observed": result.satisfied,
                                   "at": iso(result.at) if result.satisfied else None,
                                   "after_convergence_s": (result.at - since).total_seconds()
                                   if result.satisfied else None})
    return result.satisfied


@probe("sides-equal", {"intervalSeconds": {"type": "number", "minimum": 1, "maximum": 600}})
def sides_equal(run: Any, intervalSeconds: float = 30.0) -> ProbeResult:
    """After failback: the latest version of every key (scope and the run's drill writes) is the
    same on both sides; the time from recovery to equality is "protection restored"."""
    ctx = run.ctx
    out = ctx.outputs
    src, dr = ctx.client("s3", out.primaryRegion), ctx.client("s3", out.drRegion)
    prefixes = (ctx.scope_prefix, canary_prefix(run))

    def differences() -> list[str]:
        diff = []
        for prefix in prefixes:
            a = listing.latest(listing.versions(src, out.archiveBucket, prefix))
            b = listing.latest(listing.versions(dr, out.replicaBucket, prefix))
            diff += [k for k in set(a) | set(b) if (a.get(k) and a[k].version_id) != (b.get(k) and b[k].version_id)]
        return diff

    start: datetime = run.state.get("recovered_at") or ctx.clock.now()
    result = poll(ctx.clock, lambda: not differences(), timeout_s=run.timeout_s, interval_s=intervalSeconds)
    if result.satisfied:
        run.phase("protection restored", start, result.at)
        return ProbeResult(Status.PASSED, {"differences": 0, "restored_s": (result.at - start).total_seconds()})
    diff = differences()
    finding = Finding("failback-sides-differ", Severity.HIGH, f"{out.archiveBucket} / {out.replicaBucket}",
                      f"{len(diff)} key(s) differ between primary and DR after failback", {"count": len(diff)})
    return ProbeResult(Status.FAILED, {"differences": len(diff)}, (finding,))


def _after(stamp: Any, start: Any) -> bool:
    """Is the alarm's state-change time at or after ``start`` (both aware datetimes)? A missing
    time counts as after (the state is all there is to go by)."""
    if stamp is None:
        return True
    try:
        return stamp >= start
    except TypeError:
        return True
