"""Journals as the drill engine writes them (JOURNAL.md, schema drkit-journal/1), built for tests.

``passing_journal`` is an embedded run of region-failover and replication-pause that met
every objective; ``failing_journal`` breached RPO, has findings, an attacker's attempts and
"not verified" rungs. ``seal`` hash-chains the events exactly as the contract says, and
``write_run`` puts a journal into ``<folder>/<run_id>/journal.json``.
"""

from __future__ import annotations

import copy
import hashlib
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

T0 = datetime(2026, 11, 30, 12, 0, 0, tzinfo=timezone.utc)

OUTPUTS = {
    "schemaVersion": 1, "primaryRegion": "us-east-1", "drRegion": "us-west-2",
    "archiveBucket": "drkit-dev-archive-3f9a1c", "replicaBucket": "drkit-dev-replica-7b20de",
    "landingBucket": "drkit-dev-landing-11aa02", "indexTable": "drkit-dev-study-index",
    "backupVault": "drkit-dev-vault", "drBackupVault": "drkit-dev-dr-vault",
    "evidenceBucket": "drkit-dev-evidence-55c3e0",
    "multiRegionAccessPoint": "arn:aws:s3::123456789012:accesspoint/mfzwi23gnjvgw.mrap",
    "objectives": {"rpoMinutes": 15, "rtoMinutes": 60, "restoreHours": 12},
}


def ts(seconds: float) -> str:
    return (T0 + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


def canonical(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def rung(number: int, name: str, status: str = "passed", reason: str = "", **counts: Any) -> dict[str, Any]:
    return {"rung": number, "name": name, "status": status, "counts": counts, "findings": [], "reason": reason}


def healthy_ladder(instances: int = 280) -> list[dict[str, Any]]:
    return [
        rung(1, "inventory-parity", source=instances, replica=instances, bytes=12_345_678, delete_markers=0),
        rung(2, "replication-state", completed=instances, pending=0, failed=0),
        rung(3, "dicom-hierarchy", studies=12, series=30, instances=instances),
        rung(4, "sop-uid-difference", missing=0, extra=0),
        rung(5, "byte-integrity", verified=instances, mismatched=0),
        rung(6, "sample-reparse", sampled=12, parsed=12),
        rung(7, "index-parity", index_items=instances, orphans=0),
        rung(8, "immutability-parity", locked=instances, mismatched=0, legal_holds=0),
        rung(9, "configuration-in-force", properties=9, drifted=0),
    ]


def activity(kind: str, name: str, start: float, end: float, status: str = "passed", **extra: Any) -> dict[str, Any]:
    return {"type": kind, "name": name, "provider": f"drills.{kind}s.{name.replace('-', '_')}",
            "arguments": extra.pop("arguments", {}), "status": status, "start": ts(start), "end": ts(end),
            "duration_s": float(end - start), "output": extra.pop("output", {}), "error": extra.pop("error", None),
            "optional": False, **extra}


def measurement(name: str, value: float | None, unit: str, objective: float | None, met: bool | None,
                **detail: Any) -> dict[str, Any]:
    return {"name": name, "value": value, "unit": unit, "objective": objective, "comparison": "<=", "met": met,
            "simulated": True, "detail": detail}


def config_rows(lock_mode: str = "COMPLIANCE", rtc: bool = True) -> list[dict[str, Any]]:
    archive, replica = OUTPUTS["archiveBucket"], OUTPUTS["replicaBucket"]
    return [
        {"resource": archive, "property": "object lock mode", "declared": "COMPLIANCE", "observed": lock_mode,
         "drift": lock_mode != "COMPLIANCE"},
        {"resource": archive, "property": "object lock retention days", "declared": 2555, "observed": 2555,
         "drift": False},
        {"resource": archive, "property": "replication RTC", "declared": True, "observed": rtc, "drift": not rtc},
        {"resource": archive, "property": "replication delete markers", "declared": True, "observed": True,
         "drift": False},
        {"resource": replica, "property": "replica KMS key", "declared": "mrk-1234abcd", "observed": "mrk-1234abcd",
         "drift": False},
        {"resource": archive, "property": "public access block", "declared": "all four", "observed": "all four",
         "drift": False},
        {"resource": OUTPUTS["backupVault"], "property": "vault lock", "declared": "compliance",
         "observed": "compliance", "drift": False},
        {"resource": OUTPUTS["backupVault"], "property": "backup copyToDr", "declared": True, "observed": True,
         "drift": False},
        {"resource": OUTPUTS["indexTable"], "property": "PITR", "declared": True, "observed": True, "drift": False},
    ]


class Recorder:
    """Appends events the way the engine does; ``seal`` adds prev/hash afterwards."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def add(self, type_: str, time: float, scenario: str | None = None, activity: str | None = None,
            **data: Any) -> int:
        seq = len(self.events)
        self.events.append({"seq": seq, "time": ts(time), "type": type_, "scenario": scenario,
                            "activity": activity, "data": data})
        return seq

    def activities(self, scenario: str, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for item in items:
            self.add("activity-started", _secs(item["start"]), scenario, item["name"], type=item["type"])
            item["event"] = self.add("activity-ended", _secs(item["end"]), scenario, item["name"],
                                     status=item["status"])
        return items


def _secs(stamp: str) -> float:
    return (datetime.fromisoformat(stamp.replace("Z", "+00:00")) - T0).total_seconds()


def seal(journal: dict[str, Any]) -> dict[str, Any]:
    previous = "0" * 64
    for event in journal["events"]:
        event.pop("hash", None)
        event["prev"] = previous
        event["hash"] = previous = hashlib.sha256(canonical(event)).hexdigest()
    return journal


def _scenario(rec: Recorder, name: str, title: str, tags: list[str], start: float, end: float, status: str,
              method: list[dict], phases: list[tuple[str, float, float]], measurements: list[dict],
              findings: list[dict] | None = None, attempts: list[dict] | None = None,
              lag: list[float] | None = None, objectives: dict | None = None) -> dict[str, Any]:
    before = rec.activities(name, [activity("probe", "archive-readable", start, start + 2,
                                            arguments={"tolerance": {"min_instances": 280}})])
    method = rec.activities(name, method)
    rollbacks = rec.activities(name, [activity("action", "restore-routes", end - 40, end - 20)])
    after = rec.activities(name, [activity("probe", "replica-verified", end - 20, end)])
    for m in measurements:
        rec.add("measurement", end, name, None, name=m["name"], value=m["value"], met=m["met"])
    for f in findings or []:
        rec.add("finding", end, name, None, code=f["code"], severity=f["severity"])
    scenario = {
        "name": name, "title": title, "description": f"{title} (built-in scenario).", "tags": tags,
        "document_sha256": hashlib.sha256(name.encode()).hexdigest(), "test_type": "functional",
        "objectives": objectives or {"rtoMinutes": 60, "rpoMinutes": 15, "restoreHours": 12},
        "status": status, "deviated": status == "failed", "start": ts(start), "end": ts(end),
        "duration_s": float(end - start), "steady_state_before": before, "method": method, "rollbacks": rollbacks,
        "steady_state_after": after,
        "phases": [{"name": n, "start": ts(a), "end": ts(b), "duration_s": float(b - a)} for n, a, b in phases],
        "measurements": measurements, "findings": findings or [], "attempts": attempts or [],
    }
    if lag is not None:
        scenario["replication_lag_s"] = lag
    return scenario


def _base(run_id: str, start: float, end: float) -> dict[str, Any]:
    return {
        "schema": "drkit-journal/1", "run_id": run_id, "tool": {"name": "drkit", "version": "0.1.0"},
        "platform": {"python": "3.11.7", "system": "Linux"},
        "target": {"kind": "embedded-simulated", "endpoint": "http://127.0.0.1:45123", "simulated": True},
        "clock": "virtual",
        "stack": {"name": "dev", "outputs": copy.deepcopy(OUTPUTS),
                  "declared": {"objectLock": {"mode": "COMPLIANCE", "retentionDays": 2555},
                               "drill": {"prefix": "dicom/", "intervalDays": 90}}},
        "scope": {"prefix": "dicom/", "studies": 12, "series": 30, "instances": 280, "bytes": 12_345_678,
                  "by_specialty": {"radiology": {"studies": 8, "instances": 200, "bytes": 9_000_000},
                                   "cardiology": {"studies": 4, "instances": 80, "bytes": 3_345_678}},
                  "by_modality": {"CT": {"studies": 5, "instances": 150, "bytes": 7_000_000},
                                  "MR": {"studies": 3, "instances": 50, "bytes": 2_000_000},
                                  "US": {"studies": 4, "instances": 80, "bytes": 3_345_678}}},
        "start": ts(start), "end": ts(end), "duration_s": float(end - start),
        "config_in_force": {"resources": config_rows()},
        "plan": None,
    }


def passing_journal(run_id: str = "20261130T120000Z-ab12cd", offset: float = 0.0) -> dict[str, Any]:
    """An embedded run in which region-failover and replication-pause met every objective."""
    rec = Recorder()
    o = offset
    rec.add("run-started", o, run_id=run_id)
    failover = _scenario(
        rec, "region-failover", "Primary region outage mid-ingest (pilot light)", ["failover", "region"], o + 10,
        o + 2400, "passed",
        [activity("action", "region-outage", o + 20, o + 30, actor="drkit-drill-role"),
         activity("action", "switch-routes", o + 200, o + 260, actor="drkit-drill-role"),
         activity("probe", "verify-from-dr", o + 260, o + 1400)],
        [("detect", o + 30, o + 150), ("fail over", o + 150, o + 260), ("first study served", o + 260, o + 300),
         ("all verified", o + 300, o + 1410), ("failback", o + 1500, o + 2100),
         ("protection restored", o + 2100, o + 2360)],
        [measurement("rto", 1380.0, "seconds", 3600.0, True),
         measurement("rpo", 42.5, "seconds", 900.0, True, instances_at_risk=["inst-0a1b2c", "inst-3d4e5f"],
                     bytes_at_risk=81234)])
    pause = _scenario(
        rec, "replication-pause", "FIS pause-replication experiment during ingest", ["replication", "fis"],
        o + 2500, o + 4300, "passed",
        [activity("action", "start-fis-experiment", o + 2510, o + 2520, actor="drkit-fis-role"),
         activity("probe", "detect-rpo-alarm", o + 2520, o + 2760)],
        [("detect", o + 2520, o + 2760), ("all verified", o + 3600, o + 4200)],
        [measurement("detection_time", 240.0, "seconds", 900.0, True),
         measurement("rpo", 610.0, "seconds", 900.0, True, written_during_pause=36, accounted=36)],
        lag=[3.2, 4.1, 5.0, 6.5, 8.0, 12.4, 15.0, 30.0, 60.0, 120.0, 300.0, 540.0, 610.0])
    journal = _base(run_id, o, o + 4400)
    journal.update({
        "status": "completed", "deviated": False, "exit_code": 0,
        "steady_state_before": {"rungs": healthy_ladder()[:3]},
        "steady_state_after": {"rungs": healthy_ladder()[:3]},
        "scenarios": [failover, pause], "ladder": {"rungs": healthy_ladder()}, "findings": [],
    })
    rec.add("run-ended", o + 4400, status="completed", exit_code=0)
    journal["events"] = rec.events
    return seal(journal)


def failing_journal(run_id: str = "20261201T090000Z-cd34ef", offset: float = 86400.0) -> dict[str, Any]:
    """RPO breached with RTC off, findings, an attacker's attempts, and rungs not verified."""
    rec = Recorder()
    o = offset
    rec.add("run-started", o, run_id=run_id)
    finding_missing = {"code": "replica-missing-instances", "severity": "high",
                       "resource": OUTPUTS["replicaBucket"],
                       "message": "3 instances written during the pause never reached the replica.",
                       "evidence": {"missing": 3, "labels": ["inst-9f8e7d", "inst-6c5b4a", "inst-3a2b1c"]},
                       "remediation": "Run S3 Batch Replication for the missing keys; re-enable RTC."}
    finding_rtc = {"code": "config-drift", "severity": "medium", "resource": OUTPUTS["archiveBucket"],
                   "message": "Replication Time Control is off although the stack declares it.",
                   "evidence": {"property": "replication RTC", "declared": True, "observed": False},
                   "remediation": ""}
    pause = _scenario(
        rec, "replication-pause", "FIS pause-replication experiment during ingest", ["replication", "fis"],
        o + 10, o + 3400, "failed",
        [activity("action", "start-fis-experiment", o + 20, o + 30, actor="drkit-fis-role"),
         activity("probe", "detect-rpo-alarm", o + 30, o + 1300, status="not_verified",
                  error="no ReplicationLatency metric: RTC metrics are off")],
        [("detect", o + 30, o + 1300), ("all verified", o + 2000, o + 3300)],
        [measurement("rpo", 1980.0, "seconds", 900.0, False, lost_count=1, lost_bytes=40960,
                     lost=[{"label": "inst-9f8e7d", "bytes": 40960, "age_s": 1980.0}], acknowledged_drill_writes=36),
         measurement("detection_time", None, "seconds", 900.0, None)],
        findings=[finding_missing], lag=[20.0, 300.0, 880.0, 1200.0, 1700.0, 1980.0])
    insider = _scenario(
        rec, "insider-deletion", "Insider with stolen keys tries to destroy the archive", ["attack", "insider"],
        o + 3500, o + 4000, "passed",
        [activity("action", "delete-object-versions", o + 3510, o + 3600, actor="drkit-attacker-role"),
         activity("action", "shorten-retention", o + 3600, o + 3650, actor="drkit-attacker-role")],
        [("detect", o + 3510, o + 3700)],
        [measurement("restore_time", 5.5, "hours", 12.0, True)],
        attempts=[{"action": "DeleteObjectVersion", "outcome": "denied", "error_code": "AccessDenied", "count": 3},
                  {"action": "PutObjectRetention", "outcome": "denied", "error_code": "AccessDenied", "count": 1}])
    ladder = healthy_ladder()
    ladder[1] = rung(2, "replication-state", "failed", completed=277, pending=0, failed=3)
    ladder[4] = rung(5, "byte-integrity", verified=277, mismatched=0, unverifiable=3)
    ladder[5] = rung(6, "sample-reparse", "not_verified", "replica sample objects in Deep Archive: restore pending")
    journal = _base(run_id, o, o + 4100)
    journal["config_in_force"] = {"resources": config_rows(rtc=False)}
    journal.update({
        "status": "completed", "deviated": True, "exit_code": 1,
        "steady_state_before": {"rungs": healthy_ladder()[:3]}, "steady_state_after": {"rungs": ladder[:3]},
        "scenarios": [pause, insider], "ladder": {"rungs": ladder}, "findings": [finding_missing, finding_rtc],
        "plan": {"stack": "dev", "years": 10, "storage_tb_year_10": 412.5, "monthly_cost_usd_year_1": 1834.2,
                 "restore_hours_worst_tier": 11.5,
                 "tiers": [{"tier": "STANDARD", "share": 0.2}, {"tier": "DEEP_ARCHIVE", "share": 0.8}]},
    })
    rec.add("run-ended", o + 4100, status="completed", exit_code=1)
    journal["events"] = rec.events
    return seal(journal)


def write_run(folder: Path, journal: dict[str, Any]) -> Path:
    run_dir = folder / journal["run_id"]
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "journal.json").write_text(json.dumps(journal, sort_keys=True, indent=2, allow_nan=False) + "\n")
    return run_dir
