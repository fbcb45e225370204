"""Journal → report structure (schema ``drkit-report/1``): the one structure that
``report.json`` serialises and the HTML and PDF render.

Only whitelisted journal fields are copied, each by name; the free-form parts (activity
output, finding evidence, measurement detail, rung counts, plan) go through
``drills.reports.phi.scrub``. Every number is the journal's own — nothing is recomputed
except sums, worst cases and the minutes equivalent of a duration, each labelled.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from drills import __version__
from drills.reports import controls, history
from drills.reports.canonical import canonical, sha256_hex
from drills.reports.journal import ChainCheck
from drills.reports.phi import clean_text, scrub, screen
from drills.reports.units import to_minutes

REPORT_SCHEMA = "drkit-report/1"
EMBEDDED_LABEL = "embedded — every figure simulated, not evidence about AWS"
AWS_LABEL = "AWS"
RTC_THRESHOLD_S = 900.0     # S3 Replication Time Control: 99.99 % within 15 minutes
ACTIVITY_PARTS = (("steady_state_before", "steady state before"), ("method", "method"),
                  ("rollbacks", "rollback"), ("steady_state_after", "steady state after"))
OBJECTIVE_NAMES = (("rto", "RTO — recovery time"), ("rpo", "RPO — data-loss window"),
                   ("restore_time", "Restore time"))
SEVERITY_ORDER = ("critical", "high", "medium", "low", "info")

SECTIONS = (
    ("0", "cover", "Cover and integrity"),
    ("1", "summary", "Executive summary"),
    ("2", "scope", "Scope and test identity"),
    ("3", "objectives", "Objectives, success criteria and abort conditions"),
    ("4", "configuration", "Configuration in force"),
    ("5", "timeline", "Timeline"),
    ("6", "results", "Results per scenario"),
    ("7", "integrity", "Data integrity"),
    ("8", "findings", "Findings and corrective actions"),
    ("9", "controls", "Control crosswalk"),
    ("10", "history", "History and trend"),
    ("11", "signoff", "Review and sign-off"),
    ("A", "appendix", "Appendix: evidence manifest, verification procedure, schema"),
)


def _s(value: Any) -> str:
    return clean_text(value)


def _num(value: Any) -> float | int | None:
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


# --------------------------------------------------------------------------- sections

def _target(journal: dict[str, Any]) -> dict[str, Any]:
    target = journal.get("target") or {}
    simulated = bool(target.get("simulated")) or target.get("kind") == "embedded-simulated"
    return {"kind": _s(target.get("kind")), "simulated": simulated, "clock": _s(journal.get("clock")),
            "label": EMBEDDED_LABEL if simulated else AWS_LABEL,
            "watermark": EMBEDDED_LABEL if simulated else None}


def _verdict(journal: dict[str, Any], rungs: list[dict[str, Any]]) -> dict[str, Any]:
    scenario_status = [s.get("status") for s in journal.get("scenarios", [])]
    rung_status = [r["status"] for r in rungs]
    statuses = scenario_status + rung_status
    if journal.get("status") != "completed":
        result = "incomplete"
    elif "error" in statuses:
        result = "error"
    elif "failed" in statuses or journal.get("deviated"):
        result = "failed"
    elif "not_verified" in statuses or not statuses or not rungs:
        result = "not verified"
    elif journal.get("exit_code") not in (0, None):
        result = "failed"
    else:
        result = "passed"
    counts = {k: statuses.count(k) for k in ("passed", "failed", "not_verified", "error", "skipped")}
    parts = [f"{n} {k.replace('_', ' ')}" for k, n in counts.items() if n]
    statement = {
        "passed": "Every scenario passed and every verification rung passed.",
        "failed": "At least one scenario or verification rung failed: an objective was breached or a deviation observed.",
        "not verified": ("Nothing failed, but the final verification ladder did not run: data integrity is not "
                         "verified — this is not a pass." if not rungs and statuses else
                         "Nothing failed, but something could not be verified — this is not a pass."),
        "error": "An activity broke (tool or infrastructure error); the affected results are not evidence.",
        "incomplete": f"The run did not complete (status {_s(journal.get('status'))}); results cover only what ran.",
    }[result]
    return {"result": result, "status": _s(journal.get("status")), "exit_code": journal.get("exit_code"),
            "deviated": bool(journal.get("deviated")), "statement": statement,
            "tally": ", ".join(parts) + " (scenarios and rungs)" if parts else "nothing ran"}


def _measurement(m: dict[str, Any], simulated_run: bool) -> dict[str, Any]:
    value, unit = _num(m.get("value")), _s(m.get("unit"))
    objective = _num(m.get("objective"))
    met = m.get("met") if isinstance(m.get("met"), bool) else None
    verdict = "not measured" if value is None else ("met" if met is True else "breached" if met is False
                                                    else "no objective")
    return {"name": _s(m.get("name")), "value": value, "unit": unit, "objective": objective,
            "comparison": _s(m.get("comparison") or "<="), "met": met, "verdict": verdict,
            "simulated": bool(m.get("simulated")) or simulated_run,
            "value_minutes": to_minutes(value, unit) if unit not in ("minutes", "min") else None,
            "objective_minutes": to_minutes(objective, unit) if unit not in ("minutes", "min") else None,
            "detail": scrub(m.get("detail") or {})}


def _summary(scenarios: list[dict[str, Any]], integrity: dict[str, Any], findings: list[dict[str, Any]]
             ) -> dict[str, Any]:
    objectives = []
    for name, label in OBJECTIVE_NAMES:
        found = [(s, m) for s in scenarios for m in s["measurements"] if m["name"] == name]
        if not found:
            objectives.append({"name": name, "label": label, "verdict": "not measured", "measurements": 0,
                               "worst": None})
            continue
        verdicts = [m["verdict"] for _, m in found]
        verdict = ("breached" if "breached" in verdicts else "not measured" if "not measured" in verdicts
                   else "met" if all(v == "met" for v in verdicts) else "no objective")
        measured = [(s, m) for s, m in found if m["value"] is not None]
        worst = max(measured, key=lambda sm: to_minutes(sm[1]["value"], sm[1]["unit"]) or sm[1]["value"]) \
            if measured else found[0]
        s, m = worst
        objectives.append({"name": name, "label": label, "verdict": verdict, "measurements": len(found),
                           "worst": {"scenario": s["name"], "value": m["value"], "unit": m["unit"],
                                     "objective": m["objective"], "comparison": m["comparison"],
                                     "value_minutes": m["value_minutes"], "simulated": m["simulated"]}})
    by_severity = {k: 0 for k in SEVERITY_ORDER}
    for finding in findings:
        by_severity[finding["severity"]] = by_severity.get(finding["severity"], 0) + 1
    return {"objectives": objectives, "data_integrity": integrity["headline"],
            "scenarios": [{"name": s["name"], "title": s["title"], "status": s["status"]} for s in scenarios],
            "findings_by_severity": by_severity}


def _breakdown(table: Any) -> list[dict[str, Any]]:
    rows = []
    for label, counts in sorted((table or {}).items()):
        counts = counts if isinstance(counts, dict) else {}
        rows.append({"label": _s(label), "studies": _num(counts.get("studies")), "series": _num(counts.get("series")),
                     "instances": _num(counts.get("instances")), "bytes": _num(counts.get("bytes"))})
    return rows


OUTPUT_ROLES = (("archiveBucket", "archive bucket (primary)"), ("replicaBucket", "replica bucket (DR)"),
                ("landingBucket", "landing bucket"), ("indexTable", "study index table"),
                ("backupVault", "backup vault (primary)"), ("drBackupVault", "backup vault (DR)"),
                ("evidenceBucket", "evidence bucket"), ("multiRegionAccessPoint", "Multi-Region Access Point"))


def _scope(journal: dict[str, Any]) -> dict[str, Any]:
    stack = journal.get("stack") or {}
    outputs = stack.get("outputs") or {}
    scope = journal.get("scope") or {}
    tool = journal.get("tool") or {}
    platform = journal.get("platform") or {}
    return {
        "test_types": sorted({_s(s.get("test_type")) for s in journal.get("scenarios", []) if s.get("test_type")}),
        "stack": _s(stack.get("name")),
        "regions": {"primary": _s(outputs.get("primaryRegion")), "dr": _s(outputs.get("drRegion"))},
        "resources": [{"role": role, "name": _s(outputs[key])} for key, role in OUTPUT_ROLES if outputs.get(key)],
        "prefix": _s(scope.get("prefix")),
        "totals": {k: _num(scope.get(k)) for k in ("studies", "series", "instances", "bytes")},
        "by_specialty": _breakdown(scope.get("by_specialty")),
        "by_modality": _breakdown(scope.get("by_modality")),
        "documents": [{"name": _s(s.get("name")), "sha256": _s(s.get("document_sha256")),
                       "test_type": _s(s.get("test_type"))} for s in journal.get("scenarios", [])],
        "tool": {"name": _s(tool.get("name") or "drkit"), "version": _s(tool.get("version"))},
        "platform": {"python": _s(platform.get("python")), "system": _s(platform.get("system"))},
        "journal_schema": _s(journal.get("schema")),
    }


def _criteria(activities: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for a in activities or []:
        args = a.get("arguments") or {}
        tolerance = args.get("tolerance", a.get("tolerance"))
        rows.append({"name": _s(a.get("name")), "type": _s(a.get("type")),
                     "tolerance": scrub(tolerance) if tolerance is not None else None,
                     "optional": bool(a.get("optional"))})
    return rows


def _objectives(journal: dict[str, Any]) -> dict[str, Any]:
    outputs = (journal.get("stack") or {}).get("outputs") or {}
    declared = outputs.get("objectives") or {}
    scenarios = []
    for s in journal.get("scenarios", []):
        aborts = s.get("abort_conditions") or s.get("aborts") or []
        scenarios.append({
            "name": _s(s.get("name")), "title": _s(s.get("title")), "description": _s(s.get("description")),
            "objectives": [{"key": _s(k), "value": _num(v)} for k, v in sorted((s.get("objectives") or {}).items())],
            "success_criteria": _criteria(s.get("steady_state_before")),
            "abort_conditions": [_s(a) if not isinstance(a, dict) else scrub(a) for a in aborts],
        })
    return {"stack": [{"key": _s(k), "value": _num(v)} for k, v in sorted(declared.items())], "scenarios": scenarios}


def _config_rows(journal: dict[str, Any] | None) -> list[dict[str, Any]]:
    if not journal:
        return []
    return [{"resource": _s(r.get("resource")), "property": _s(r.get("property")),
             "declared": scrub(r.get("declared")), "observed": scrub(r.get("observed")), "drift": bool(r.get("drift"))}
            for r in (journal.get("config_in_force") or {}).get("resources", [])]


def _configuration(journal: dict[str, Any], previous: dict[str, Any] | None) -> dict[str, Any]:
    rows = _config_rows(journal)
    changes = []
    if previous is not None:
        before = {(r["resource"], r["property"]): r["observed"] for r in _config_rows(previous)}
        for row in rows:
            key = (row["resource"], row["property"])
            if key not in before:
                changes.append({"resource": row["resource"], "property": row["property"], "before": "(not read)",
                                "after": row["observed"]})
            elif before[key] != row["observed"]:
                changes.append({"resource": row["resource"], "property": row["property"], "before": before[key],
                                "after": row["observed"]})
    return {"rows": rows, "drift_count": sum(r["drift"] for r in rows),
            "previous_run": previous["run_id"] if previous else None, "changes_since_previous": changes}


def _actor(activity: dict[str, Any]) -> str:
    actor = activity.get("actor") or (activity.get("arguments") or {}).get("role")
    return _s(actor) if actor else "not recorded"


def _timeline(journal: dict[str, Any]) -> dict[str, Any]:
    rows = []
    for s in journal.get("scenarios", []):
        for part, label in ACTIVITY_PARTS:
            for a in s.get(part) or []:
                rows.append({"scenario": _s(s.get("name")), "part": label, "type": _s(a.get("type")),
                             "name": _s(a.get("name")), "start": _s(a.get("start")), "end": _s(a.get("end")),
                             "duration_s": _num(a.get("duration_s")), "actor": _actor(a),
                             "status": _s(a.get("status")), "event": a.get("event") if isinstance(a.get("event"), int)
                             else None, "error": _s(a.get("error")) if a.get("error") else None})
    rows.sort(key=lambda r: (r["start"], r["event"] if r["event"] is not None else -1))
    return {"activities": rows, "start": _s(journal.get("start")), "end": _s(journal.get("end")),
            "duration_s": _num(journal.get("duration_s"))}


def _lag(samples: Any) -> dict[str, Any] | None:
    values = sorted(float(v) for v in (samples or []) if _num(v) is not None)
    if not values:
        return None

    def pct(p: float) -> float:
        return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]

    return {"samples": values, "count": len(values), "max_s": values[-1], "p50_s": pct(50), "p99_s": pct(99),
            "over_threshold": sum(v > RTC_THRESHOLD_S for v in values), "threshold_s": RTC_THRESHOLD_S}


AT_RISK_KEYS = ("instances_at_risk", "at_risk", "lost")   # measurement detail keys listing the RPO window


def _at_risk(item: Any) -> dict[str, Any]:
    """One instance at risk: an opaque label, with its bytes and age when the journal has them."""
    if isinstance(item, dict):
        return {"label": _s(item.get("label")), "bytes": _num(item.get("bytes")), "age_s": _num(item.get("age_s"))}
    return {"label": _s(item), "bytes": None, "age_s": None}


def _scenario(s: dict[str, Any], simulated: bool) -> dict[str, Any]:
    measurements = [_measurement(m, simulated) for m in s.get("measurements", [])]
    at_risk = []
    for m in measurements:
        for key in AT_RISK_KEYS:
            items = m["detail"].get(key)
            if isinstance(items, list):
                at_risk.extend(_at_risk(item) for item in items)
    return {
        "name": _s(s.get("name")), "title": _s(s.get("title") or s.get("name")), "status": _s(s.get("status")),
        "description": _s(s.get("description")), "test_type": _s(s.get("test_type")),
        "tags": [_s(t) for t in s.get("tags") or []],
        "start": _s(s.get("start")), "end": _s(s.get("end")), "duration_s": _num(s.get("duration_s")),
        "deviated": bool(s.get("deviated")),
        "phases": [{"name": _s(p.get("name")), "start": _s(p.get("start")), "end": _s(p.get("end")),
                    "duration_s": _num(p.get("duration_s"))} for p in s.get("phases") or []],
        "measurements": measurements,
        "instances_at_risk": at_risk,
        "attempts": [{"action": _s(a.get("action")), "outcome": _s(a.get("outcome")),
                      "error_code": _s(a.get("error_code")), "count": _num(a.get("count"))}
                     for a in s.get("attempts") or []],
        "replication_lag": _lag(s.get("replication_lag_s")),
        "findings": len(s.get("findings") or []),
    }


def _rung(r: dict[str, Any]) -> dict[str, Any]:
    return {"rung": _num(r.get("rung")), "name": _s(r.get("name")), "status": _s(r.get("status")),
            "counts": scrub(r.get("counts") or {}), "reason": _s(r.get("reason")),
            "findings": len(r.get("findings") or [])}


def _integrity(journal: dict[str, Any]) -> dict[str, Any]:
    ladder = [_rung(r) for r in ((journal.get("ladder") or {}).get("rungs") or [])]
    before = [_rung(r) for r in ((journal.get("steady_state_before") or {}).get("rungs") or [])]
    after = [_rung(r) for r in ((journal.get("steady_state_after") or {}).get("rungs") or [])]
    in_scope = _num((journal.get("scope") or {}).get("instances"))
    # The headline count: the byte-integrity rung (5) — its "verified" or "matched" count (stored
    # SHA-256 equal to the index's) — else the highest "verified" count any rung reports.
    # Never inferred from a status alone.
    chosen, count_key = None, None
    for rung in ladder:
        if rung["rung"] == 5:
            count_key = next((k for k in ("verified", "matched") if isinstance(rung["counts"].get(k), int)), None)
            chosen = rung if count_key else None
    if chosen is None:
        candidates = [r for r in ladder if isinstance(r["counts"].get("verified"), int)]
        chosen = max(candidates, key=lambda r: r["counts"]["verified"]) if candidates else None
        count_key = "verified"
    open_rungs = [r for r in ladder if r["status"] != "passed"]
    if chosen is None:
        statement = "No verification rung reported a count of verified instances: data integrity not verified."
    else:
        statement = (f"{chosen['counts'][count_key]} of {in_scope} in-scope instances verified "
                     f"(rung {chosen['rung']} {chosen['name']}, count '{count_key}')")
        if open_rungs:
            statement += "; " + ", ".join(f"rung {r['rung']} {r['name']} {r['status'].replace('_', ' ')}"
                                          for r in open_rungs)
    return {"ladder": ladder, "steady_state_before": before, "steady_state_after": after,
            "not_verified": [r for r in ladder + before + after if r["status"] == "not_verified"],
            "headline": {"verified": chosen["counts"][count_key] if chosen else None, "in_scope": in_scope,
                         "rung": chosen["rung"] if chosen else None, "complete": bool(chosen) and not open_rungs
                         and chosen["counts"][count_key] == in_scope, "statement": statement}}


def _findings(journal: dict[str, Any], phi_paths: list[str]) -> list[dict[str, Any]]:
    owners = {}
    for s in journal.get("scenarios", []):
        for f in s.get("findings") or []:
            owners.setdefault((f.get("code"), f.get("resource")), s.get("name"))
    found = list(journal.get("findings") or [])
    items = []
    for f in found:
        seq = controls.Journal(journal).event_for("finding", None, code=f.get("code"))
        items.append({"code": _s(f.get("code")), "severity": _s(f.get("severity") or "info").lower(),
                      "resource": _s(f.get("resource")), "message": _s(f.get("message")),
                      "evidence": scrub(f.get("evidence") or {}),
                      "remediation": _s(f.get("remediation")) or "none recorded — for the owner to decide",
                      "scenario": _s(owners.get((f.get("code"), f.get("resource")))) or None, "event": seq})
    if phi_paths:
        items.append({"code": "journal-phi-suspect", "severity": "high", "resource": "journal.json",
                      "message": f"{len(phi_paths)} journal field(s) resemble patient data; the report withheld them "
                                 "and did not attach the journal to the PDF.",
                      "evidence": {"paths": phi_paths[:20]}, "event": None, "scenario": None,
                      "remediation": "Find the probe or action that wrote them and record opaque labels instead."})
    rank = {k: i for i, k in enumerate(SEVERITY_ORDER)}
    items.sort(key=lambda f: rank.get(f["severity"], len(rank)))
    for index, item in enumerate(items, 1):
        item["id"] = f"F-{index}"
    return items


def _plan(journal: dict[str, Any]) -> dict[str, Any]:
    plan = journal.get("plan")
    if not isinstance(plan, dict) or not plan:
        return {"included": False, "summary": {}}
    return {"included": True, "summary": scrub(plan)}


SIGNOFF_ROLES = ("Drill lead (ran the drill)", "System owner (archive)", "Security / compliance officer",
                 "Independent reviewer or auditor")


def build_report(journal: dict[str, Any], *, chain: ChainCheck, journal_sha256: str,
                 folder: history.Folder, integrity_inputs: dict[str, Any],
                 artifacts: list[dict[str, Any]]) -> dict[str, Any]:
    """The report structure for one journal.

    ``integrity_inputs``: ``signing_key`` (algorithm, fingerprint) and ``previous``
    (run id and manifest/report digests of the previous run in the folder, or None).
    ``artifacts``: name, sha256, bytes of the run dir's files as they were before rendering.
    """
    target = _target(journal)
    phi_paths = screen(journal)
    scenarios = [_scenario(s, target["simulated"]) for s in journal.get("scenarios", [])]
    integrity = _integrity(journal)
    findings = _findings(journal, phi_paths)
    earlier = history.earlier(folder, journal)
    previous_journal = earlier[-1].journal if earlier else None
    report: dict[str, Any] = {
        "schema": REPORT_SCHEMA,
        "run_id": _s(journal["run_id"]),
        "generated": {"by": f"drkit {__version__}",
                      "at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"), "clock": "wall"},
        "target": target,
        "verdict": _verdict(journal, integrity["ladder"]),
        "toc": [{"number": n, "id": i, "title": t} for n, i, t in SECTIONS],
        "integrity": {
            "journal_sha256": journal_sha256,
            "journal_events": chain.events,
            "journal_chain_head": chain.head,
            "journal_chain_intact": chain.intact,
            "journal_chain_problem": chain.reason or None,
            "signing_key": integrity_inputs.get("signing_key"),
            "previous": integrity_inputs.get("previous"),
            "journal_attached": not phi_paths,
            "content_sha256": "",
        },
        "summary": {},
        "scope": _scope(journal),
        "plan": _plan(journal),
        "objectives": _objectives(journal),
        "configuration": _configuration(journal, previous_journal),
        "timeline": _timeline(journal),
        "scenarios": scenarios,
        "data_integrity": integrity,
        "findings": findings,
        "controls": controls.crosswalk(journal),
        "history": history.history_section(journal, folder),
        "signoff": {"roles": list(SIGNOFF_ROLES)},
        "appendix": {"artifacts": artifacts},
    }
    report["summary"] = _summary(scenarios, integrity, findings)
    report["integrity"]["content_sha256"] = content_digest(report)
    return report


def content_digest(report: dict[str, Any]) -> str:
    """SHA-256 of the report's canonical JSON with ``integrity.content_sha256`` blanked."""
    body = dict(report)
    body["integrity"] = dict(report["integrity"], content_sha256="")
    return sha256_hex(canonical(body))
