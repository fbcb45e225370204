"""The ladder around a run (drills.engine.verification): rung 9's rows become the journal's
``config_in_force``; findings of several passes are listed once; failed or not-verified rungs
make the run deviate."""

from __future__ import annotations

from drills.engine import verification
from drills.engine.model import Finding, RungResult, Severity, Status

ROWS = [
    {"check": "versioning", "resource": "archive", "declared": "Enabled", "observed": "Suspended", "ok": False},
    {"check": "object-lock-default-retention", "resource": "archive", "declared": {"mode": "COMPLIANCE", "days": 30},
     "observed": {"mode": "COMPLIANCE", "days": 1}, "ok": False},
    {"check": "replication-tag-filter", "resource": "rule", "declared": {}, "observed": {"a": "b"}, "ok": False},
]


def _rung9(rows=ROWS, status=Status.FAILED, reason="") -> dict:
    return RungResult(9, "configuration-in-force", status, counts={"checks": rows}, reason=reason).to_json()


def test_config_in_force_has_the_journal_shape_one_row_per_property() -> None:
    config = verification.config_in_force([_rung9()])
    assert config["resources"] == [
        {"resource": "archive", "property": "versioning", "declared": "Enabled", "observed": "Suspended", "drift": True},
        {"resource": "archive", "property": "object lock default retention mode", "declared": "COMPLIANCE",
         "observed": "COMPLIANCE", "drift": False},
        {"resource": "archive", "property": "object lock default retention days", "declared": 30, "observed": 1,
         "drift": True},
        {"resource": "rule", "property": "replication tag filter", "declared": {}, "observed": {"a": "b"},
         "drift": True},
    ]


def test_config_in_force_says_why_nothing_was_read_and_is_absent_without_rung_9() -> None:
    unread = verification.config_in_force([_rung9([], Status.NOT_VERIFIED, "no declared config")])
    assert unread == {"resources": [], "status": "not_verified", "not_verified": "no declared config"}
    assert verification.config_in_force([RungResult(1, "inventory-parity", Status.PASSED).to_json()]) is None


def test_a_finding_seen_before_and_after_is_listed_once_with_its_passes() -> None:
    finding = Finding("replica-missing-instances", Severity.CRITICAL, "replica", "1 missing")
    rung = RungResult(1, "inventory-parity", Status.FAILED, findings=(finding,)).to_json()
    document = {"steady_state_before": {"rungs": [rung]}, "steady_state_after": {"rungs": [rung]},
                "ladder": {"rungs": [RungResult(1, "inventory-parity", Status.PASSED).to_json()]}}
    (listed,) = verification.findings(document)
    assert listed["code"] == "replica-missing-instances" and listed["phases"] == ["before", "after"]
    assert verification.deviated(document)
    assert verification.statuses(document) == [Status.FAILED, Status.FAILED, Status.PASSED]


def test_not_verified_deviates_passed_does_not() -> None:
    passed = {"ladder": {"rungs": [RungResult(5, "stored-checksums", Status.PASSED).to_json()]}}
    unverified = {"ladder": {"rungs": [RungResult(5, "stored-checksums", Status.NOT_VERIFIED).to_json()]}}
    assert not verification.deviated(passed) and verification.deviated(unverified)
    assert not verification.deviated({"ladder": None, "steady_state_before": None})


# ----------------------------------------------------------------------------- execute(ladder=...)

def _run_with_ladder(ctx, tmp_path, monkeypatch, by_phase: dict[int, list[RungResult]]):
    """``execute`` with the ladder's rung results stubbed per pass (0 before, 1 after, 2 final)."""
    from drills.engine.execute import execute, run_journal
    from drills.engine.journal import load, verify_chain
    from drills.probes import ladder
    from tests.helpers.engine import act as _act, scenario as _scenario

    calls: list[int | None] = []

    def fake(ctx_, rungs=None, sample=3, seed=None, progress=None):
        results = by_phase[len(calls)]
        calls.append(seed)
        for r in results:
            progress(None, r)
        return results

    monkeypatch.setattr(ladder, "run_ladder", fake)
    with run_journal(ctx.run_id, tmp_path) as rj:
        rj.start(ctx.clock, target={"kind": "embedded-simulated", "endpoint": None, "simulated": True})
        result = execute(rj, ctx, [_scenario([_act("a")])], ladder=verification.LadderSettings(seed=7))
    document = load(tmp_path / "journal.json")
    assert verify_chain(document) == []
    return result, document, calls


def test_execute_records_three_passes_and_a_healthy_ladder_exits_0(ctx, tmp_path, monkeypatch) -> None:
    ok = [RungResult(1, "inventory-parity", Status.PASSED), _rung9_result([], Status.PASSED)]
    result, document, seeds = _run_with_ladder(ctx, tmp_path, monkeypatch, {0: ok, 1: ok, 2: ok})
    assert result.exit_code == 0 and not document["deviated"] and seeds == [7, 8, 9]   # each pass samples others
    assert [r["rung"] for r in document["ladder"]["rungs"]] == [1, 9]
    assert document["config_in_force"]["resources"] == []
    assert [e["data"]["phase"] for e in document["events"] if e["type"] == "rung"] == ["final", "final"]
    assert len([e for e in document["events"] if e["type"] == "steady-state-rung"]) == 4


def test_a_failed_rung_after_the_drills_deviates_with_its_finding(ctx, tmp_path, monkeypatch) -> None:
    ok = [RungResult(1, "inventory-parity", Status.PASSED)]
    finding = Finding("replica-missing-instances", Severity.CRITICAL, "replica-bucket", "1 instance missing")
    bad = [RungResult(1, "inventory-parity", Status.FAILED, findings=(finding,))]
    result, document, _ = _run_with_ladder(ctx, tmp_path, monkeypatch, {0: ok, 1: bad, 2: bad})
    assert result.exit_code == 1 and document["exit_code"] == 1 and document["deviated"]
    assert document["scenarios"][0]["status"] == "passed"
    (listed,) = [f for f in document["findings"] if f["code"] == "replica-missing-instances"]
    assert listed["resource"] == "replica-bucket" and listed["phases"] == ["after", "final"]


def test_a_not_verified_rung_deviates_and_a_broken_one_is_exit_3(ctx, tmp_path, monkeypatch) -> None:
    unverified = [RungResult(9, "configuration-in-force", Status.NOT_VERIFIED, reason="no declared config")]
    result, document, _ = _run_with_ladder(ctx, tmp_path / "a", monkeypatch, {0: unverified, 1: unverified,
                                                                            2: unverified})
    assert result.exit_code == 1 and document["config_in_force"]["not_verified"] == "no declared config"
    broken = [RungResult(2, "replication-state", Status.ERROR, reason="ConnectionError")]
    result, document, _ = _run_with_ladder(ctx, tmp_path / "b", monkeypatch, {0: broken, 1: broken, 2: broken})
    assert result.exit_code == 3 and document["status"] == "failed"


def _rung9_result(rows, status) -> RungResult:
    return RungResult(9, "configuration-in-force", status, counts={"checks": rows})
