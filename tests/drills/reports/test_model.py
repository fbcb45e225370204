"""Journal → report structure: every section present, every number the journal's own,
honest verdicts ("not verified" never a pass), controls without evidence say so."""

from __future__ import annotations

import copy

import pytest

from drills.errors import UsageError
from drills.reports import history
from drills.reports.canonical import canonical, sha256_hex
from drills.reports.journal import check_chain, load_journal
from drills.reports.model import EMBEDDED_LABEL, REPORT_SCHEMA, SECTIONS, build_report, content_digest
from tests.drills.reports import journals


def build(journal: dict, folder=None) -> dict:
    return build_report(journal, chain=check_chain(journal["events"]), journal_sha256=sha256_hex(canonical(journal)),
                        folder=folder or history.Folder(), integrity_inputs={"signing_key": None, "previous": None},
                        artifacts=[])


def test_sections_zero_to_eleven_and_appendix_in_order(passing):
    report = build(passing)
    assert report["schema"] == REPORT_SCHEMA
    assert [t["number"] for t in report["toc"]] == [str(n) for n in range(12)] + ["A"]
    assert [t["title"] for t in report["toc"]][7] == "Data integrity"
    for key in ("integrity", "summary", "scope", "objectives", "configuration", "timeline", "scenarios",
                "data_integrity", "findings", "controls", "history", "signoff", "appendix", "plan"):
        assert key in report, key
    assert len(SECTIONS) == 13


def test_numbers_are_the_journals(passing):
    report = build(passing)
    failover = report["scenarios"][0]
    rto = next(m for m in failover["measurements"] if m["name"] == "rto")
    assert (rto["value"], rto["unit"], rto["objective"], rto["verdict"]) == (1380.0, "seconds", 3600.0, "met")
    assert rto["value_minutes"] == 23.0 and rto["simulated"] is True
    assert [p["name"] for p in failover["phases"]] == ["detect", "fail over", "first study served", "all verified",
                                                      "failback", "protection restored"]
    assert failover["phases"][0]["duration_s"] == 120.0
    assert failover["instances_at_risk"] == [{"label": "inst-0a1b2c", "bytes": None, "age_s": None},
                                             {"label": "inst-3d4e5f", "bytes": None, "age_s": None}]
    assert report["scope"]["totals"] == {"studies": 12, "series": 30, "instances": 280, "bytes": 12_345_678}
    assert {r["label"]: r["instances"] for r in report["scope"]["by_modality"]} == {"CT": 150, "MR": 50, "US": 80}
    assert report["scope"]["regions"] == {"primary": "us-east-1", "dr": "us-west-2"}
    assert report["scope"]["test_types"] == ["functional"]
    assert report["integrity"]["journal_events"] == len(passing["events"])
    assert report["integrity"]["journal_chain_head"] == passing["events"][-1]["hash"]
    lag = report["scenarios"][1]["replication_lag"]
    assert lag["count"] == 13 and lag["max_s"] == 610.0 and lag["over_threshold"] == 0
    assert len(report["timeline"]["activities"]) == 11          # (1 + 3 + 1 + 1) + (1 + 2 + 1 + 1)
    assert all(a["event"] is not None for a in report["timeline"]["activities"])


def test_passing_run_verdict_and_rpo_worst_case(passing):
    report = build(passing)
    assert report["verdict"]["result"] == "passed"
    target = report["target"]
    assert target["simulated"] and target["label"] == EMBEDDED_LABEL and target["watermark"] == EMBEDDED_LABEL
    rpo = next(o for o in report["summary"]["objectives"] if o["name"] == "rpo")
    assert rpo["verdict"] == "met" and rpo["measurements"] == 2
    assert rpo["worst"]["value"] == 610.0 and rpo["worst"]["scenario"] == "replication-pause"
    restore = next(o for o in report["summary"]["objectives"] if o["name"] == "restore_time")
    assert restore["verdict"] == "not measured" and restore["worst"] is None
    assert report["summary"]["data_integrity"]["verified"] == 280
    assert report["summary"]["data_integrity"]["complete"] is True


def test_failing_run_breach_findings_and_not_verified(failing):
    report = build(failing)
    assert report["verdict"]["result"] == "failed"
    rpo = next(o for o in report["summary"]["objectives"] if o["name"] == "rpo")
    assert rpo["verdict"] == "breached" and rpo["worst"]["value"] == 1980.0
    detection = next(m for m in report["scenarios"][0]["measurements"] if m["name"] == "detection_time")
    assert detection["verdict"] == "not measured"
    assert report["scenarios"][0]["instances_at_risk"] == [{"label": "inst-9f8e7d", "bytes": 40960, "age_s": 1980.0}]
    headline = report["data_integrity"]["headline"]
    assert (headline["verified"], headline["in_scope"], headline["complete"]) == (277, 280, False)
    assert "rung 6 sample-reparse not verified" in headline["statement"]
    assert [r["rung"] for r in report["data_integrity"]["not_verified"]] == [6]
    codes = [(f["id"], f["severity"], f["code"]) for f in report["findings"]]
    assert codes == [("F-1", "high", "replica-missing-instances"), ("F-2", "medium", "config-drift")]
    assert report["findings"][0]["scenario"] == "replication-pause" and report["findings"][0]["event"] is not None
    assert report["findings"][1]["remediation"].startswith("none recorded")
    attempts = report["scenarios"][1]["attempts"]
    assert attempts[0] == {"action": "DeleteObjectVersion", "outcome": "denied", "error_code": "AccessDenied", "count": 3}
    assert report["configuration"]["drift_count"] == 1


def test_headline_from_the_checksum_rungs_matched_count(passing):
    """The ladder's checksum rung counts versions whose stored SHA-256 matched the index ("matched")."""
    journal = copy.deepcopy(passing)
    journal["ladder"]["rungs"][4]["counts"] = {"indexItems": 280, "matched": 279, "archiveMismatch": 1}
    journal["ladder"]["rungs"][4]["status"] = "failed"
    headline = build(journal)["data_integrity"]["headline"]
    assert (headline["verified"], headline["rung"], headline["complete"]) == (279, 5, False)
    assert headline["statement"].startswith("279 of 280 in-scope instances verified (rung 5 byte-integrity, count "
                                            "'matched'); rung 5 byte-integrity failed")
    journal["ladder"]["rungs"][4]["counts"] = {}
    headline = build(journal)["data_integrity"]["headline"]      # no rung reports a count: not verified
    assert headline["verified"] is None and headline["statement"].startswith("No verification rung reported")


def test_not_verified_alone_is_not_a_pass(passing):
    journal = copy.deepcopy(passing)
    journal["ladder"]["rungs"][5]["status"] = "not_verified"
    assert build(journal)["verdict"]["result"] == "not verified"


def test_incomplete_run(passing):
    journal = dict(passing, status="interrupted")
    assert build(journal)["verdict"]["result"] == "incomplete"


def test_aws_target_has_no_watermark(passing):
    journal = dict(passing, target={"kind": "aws", "endpoint": None, "simulated": False}, clock="wall")
    report = build(journal)
    assert report["target"]["label"] == "AWS" and report["target"]["watermark"] is None


def test_controls_cite_event_ids_and_say_when_unsupported(failing, passing):
    controls = {c["id"]: c for c in build(failing)["controls"]}
    assert {"164.308(a)(7)(ii)(A)", "164.308(a)(7)(ii)(E)", "164.312(b)", "164.312(c)(1)", "164.312(c)(2)", "CP-4",
            "CP-9", "CP-10", "RC.RP", "A1.3", "CC7.5", "8.5", "17a-4(f)",
            "BACKUP_RESOURCES_PROTECTED_BY_BACKUP_VAULT_LOCK"} <= set(controls)
    # no failover scenario in the failing run: emergency mode has no evidence, and says so
    assert controls["164.308(a)(7)(ii)(C)"]["status"] == "no supporting evidence in this run"
    assert controls["164.308(a)(7)(ii)(C)"]["evidence"] == []
    # the attacker's denied attempts support CC7.5, each by its journal event
    cc75 = controls["CC7.5"]
    assert cc75["status"] == "evidenced"
    seqs = {e["event"] for e in cc75["evidence"]}
    activity_events = {a["event"] for a in failing["scenarios"][1]["method"]}
    assert activity_events <= seqs
    for seq in activity_events:
        assert failing["events"][seq]["type"] == "activity-ended"
    # the breached RPO shows as a gap, never as evidenced
    assert build(failing)["controls"][3]["status"] == "evidence shows a gap"    # (D) testing, RPO breached
    assert {c["id"]: c for c in build(passing)["controls"]}["164.308(a)(7)(ii)(C)"]["status"] == "evidenced"


def test_sec_17a4_only_for_compliance_mode(passing):
    journal = copy.deepcopy(passing)
    assert {c["id"]: c for c in build(journal)["controls"]}["17a-4(f)"]["status"] == "evidenced"
    journal["config_in_force"]["resources"][0]["observed"] = "GOVERNANCE"
    status = {c["id"]: c for c in build(journal)["controls"]}["17a-4(f)"]["status"]
    assert status == "not applicable: the archive's Object Lock mode in force is GOVERNANCE, not COMPLIANCE"


def test_plan_summary_included_only_when_present(passing, failing):
    assert build(passing)["plan"] == {"included": False, "summary": {}}
    plan = build(failing)["plan"]
    assert plan["included"] and plan["summary"]["storage_tb_year_10"] == 412.5


def test_history_drift_and_next_drill(folder, passing, failing, write_run):
    write_run(passing)
    third = journals.failing_journal(run_id="20261215T090000Z-ee55ff", offset=15 * 86400.0)
    write_run(failing)
    scanned = history.scan_folder(folder)
    report = build(third, scanned)
    runs = report["history"]["runs"]
    assert [r["run_id"] for r in runs] == [passing["run_id"], failing["run_id"], third["run_id"]]
    assert runs[0]["rto_minutes"] == 23.0 and runs[1]["rpo_minutes"] == 33.0
    assert [r["fully_verified"] for r in runs] == [True, False, False]
    assert report["history"]["last_fully_verified"] == passing["run_id"]
    # passing run ended at T0 + 4400 s (2026-11-30T13:13:20Z); the third ends at T0 + 15 d + 4100 s
    assert report["history"]["days_since_fully_verified"] == round(15 - 300 / 86400, 1) == 15.0
    assert report["history"]["next_drill_due"] == "2027-02-28T13:13:20Z"
    # config compared with the previous run (the failing one: RTC off there too) -> no change
    assert report["configuration"]["previous_run"] == failing["run_id"]
    assert report["configuration"]["changes_since_previous"] == []
    after_passing = build(failing, history.Folder(runs=[history.Sibling(folder / passing["run_id"], passing)]))
    assert after_passing["configuration"]["changes_since_previous"] == [
        {"resource": journals.OUTPUTS["archiveBucket"], "property": "replication RTC", "before": True, "after": False}]


def test_content_digest_covers_everything_but_itself(passing):
    report = build(passing)
    assert report["integrity"]["content_sha256"] == content_digest(report)
    report["scenarios"][0]["measurements"][0]["value"] = 1.0
    assert report["integrity"]["content_sha256"] != content_digest(report)


@pytest.mark.parametrize("mutate, message", [
    (lambda j: j.update(schema="chaostoolkit/1"), "schema"),
    (lambda j: j.pop("events"), "events"),
    (lambda j: j["scenarios"].append({"title": "no name"}), "scenarios[2]"),
])
def test_invalid_journal_is_a_usage_error(write_run, passing, mutate, message):
    journal = copy.deepcopy(passing)
    mutate(journal)
    run_dir = write_run(journal)
    with pytest.raises(UsageError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_journal(run_dir)


def test_nan_and_garbage_are_refused(folder):
    run = folder / "r1"
    run.mkdir()
    (run / "journal.json").write_text('{"schema": "drkit-journal/1", "x": NaN}')
    with pytest.raises(UsageError, match="not strict JSON"):
        load_journal(run)
    with pytest.raises(UsageError, match="no journal.json"):
        load_journal(folder)


def test_no_final_ladder_is_not_a_pass(passing):
    """Scenarios passed, but the final verification did not run: the report does not call it a pass."""
    journal = dict(passing, ladder=None)
    verdict = build(journal)["verdict"]
    assert verdict["result"] == "not verified" and "final verification ladder did not run" in verdict["statement"]


def test_a_fenced_clients_refusals_are_not_attack_evidence(passing):
    journal = copy.deepcopy(passing)
    journal["scenarios"][0]["attempts"] = [{"action": "s3:HeadBucket in us-east-1", "outcome": "denied",
                                            "error_code": "ConnectionClosedError", "count": 1}]
    controls = {c["id"]: c for c in build(journal)["controls"]}
    assert controls["CC7.5"]["evidence"] == [] and controls["CC7.5"]["status"] == "no supporting evidence in this run"
    assert build(journal)["scenarios"][0]["attempts"][0]["error_code"] == "ConnectionClosedError"
