"""The runner: steady state -> method -> rollbacks into the journal; statuses and exit codes;
the journal is written on failure and on Ctrl-C."""

from __future__ import annotations

from pathlib import Path

import pytest

from drills.engine.execute import execute, run_journal
from drills.engine.journal import load, verify_chain
from drills.errors import InfraError

from tests.helpers.engine import CALLS, act as _act, probe_step as _probe, scenario as _scenario


def _run(ctx, tmp_path: Path, *scenarios):
    CALLS.clear()
    with run_journal(ctx.run_id, tmp_path) as rj:
        rj.start(ctx.clock, target={"kind": "embedded-simulated", "endpoint": None, "simulated": True})
        result = execute(rj, ctx, list(scenarios))
    document = load(tmp_path / "journal.json")
    assert verify_chain(document) == []
    return result, document


def test_passing_scenario_exits_0_and_journals_every_activity(ctx, tmp_path) -> None:
    result, document = _run(ctx, tmp_path, _scenario([_act("a"), _probe("p")]))
    assert result.exit_code == 0 and document["exit_code"] == 0 and document["status"] == "completed"
    (scenario,) = document["scenarios"]
    assert scenario["status"] == "passed" and not scenario["deviated"]
    assert [a["name"] for a in scenario["steady_state_before"] + scenario["method"] + scenario["steady_state_after"]
            + scenario["rollbacks"]] == ["ok", "a", "p", "ok", "undo"]
    activity = scenario["method"][0]
    assert activity["duration_s"] == 5.0 and activity["start"].endswith("Z")
    assert document["events"][activity["event"]]["type"] == "activity-ended"


def test_failed_action_stops_the_method_but_rollbacks_run(ctx, tmp_path) -> None:
    result, document = _run(ctx, tmp_path, _scenario([_act("a", outcome="failed"), _act("b")]))
    scenario = document["scenarios"][0]
    assert result.exit_code == 1 and scenario["status"] == "failed" and scenario["deviated"]
    assert scenario["method"][1]["status"] == "skipped" and "a" in scenario["method"][1]["reason"]
    assert scenario["rollbacks"][0]["status"] == "passed"
    assert CALLS == ["observe:passed", "change:failed", "observe:passed", "change:passed"]


def test_steady_state_not_met_skips_method_and_rollbacks(ctx, tmp_path) -> None:
    result, document = _run(ctx, tmp_path, _scenario([_act("a")], steady=[_probe("bad", status="failed")]))
    scenario = document["scenarios"][0]
    assert result.exit_code == 1
    assert [a["status"] for a in scenario["method"] + scenario["rollbacks"]] == ["skipped", "skipped"]
    assert "change:passed" not in CALLS


def test_not_verified_exits_1_unless_optional(ctx, tmp_path) -> None:
    result, _ = _run(ctx, tmp_path, _scenario([_probe("p", status="not_verified")]))
    assert result.exit_code == 1
    result, document = _run(ctx, tmp_path, _scenario([_probe("p", optional=True, status="not_verified")]))
    assert result.exit_code == 0
    assert document["scenarios"][0]["method"][0]["status"] == "not_verified"   # still recorded honestly


def test_tolerance_decides_a_probe(ctx, tmp_path) -> None:
    result, document = _run(ctx, tmp_path, _scenario([_probe("p", value=3, tolerance={"output": "value", "max": 2})]))
    assert result.exit_code == 1
    assert document["scenarios"][0]["method"][0]["error"] == "value = 3 > 2"
    result, _ = _run(ctx, tmp_path, _scenario([_probe("p", value=1, tolerance={"output": "value", "max": 2})]))
    assert result.exit_code == 0


def test_a_breached_objective_exits_1_and_a_missing_one_is_not_verified(ctx, tmp_path) -> None:
    result, document = _run(ctx, tmp_path, _scenario([_act("a", measure=120)], objectives=["rto"]))
    assert result.exit_code == 1
    assert document["scenarios"][0]["measurements"][0]["met"] is False
    result, document = _run(ctx, tmp_path, _scenario([_act("a")], objectives=["rto"]))
    assert result.exit_code == 1 and document["scenarios"][0]["status"] == "not_verified"
    result, _ = _run(ctx, tmp_path, _scenario([_act("a", measure=30)], objectives=["rto"]))
    assert result.exit_code == 0


def test_a_provider_that_raises_is_an_error_not_a_crash(ctx, tmp_path) -> None:
    result, document = _run(ctx, tmp_path, _scenario([_act("a", outcome="raise")]))
    assert result.exit_code == 3 and document["status"] == "failed"
    assert document["scenarios"][0]["method"][0]["error"] == "RuntimeError: boom"
    # a deviation elsewhere in the run outweighs the error: exit 1
    result, _ = _run(ctx, tmp_path, _scenario([_act("a", outcome="raise")]),
                     _scenario([_act("b", outcome="failed")], name="other"))
    assert result.exit_code == 1


def test_an_activity_past_its_timeout_is_an_error(ctx, tmp_path) -> None:
    ctx.clock.simulated = False                      # wall clock: the guard is the activity's timeout
    result, document = _run(ctx, tmp_path, _scenario([_act("slow", timeout=0.2, outcome="sleep")]))
    assert result.exit_code == 3
    assert document["scenarios"][0]["method"][0]["error"] == "timed out after 0.2 s (wall clock)"


def test_ctrl_c_runs_rollbacks_writes_the_journal_and_propagates(ctx, tmp_path) -> None:
    CALLS.clear()
    with pytest.raises(KeyboardInterrupt):
        with run_journal(ctx.run_id, tmp_path) as rj:
            rj.start(ctx.clock, target={"kind": "embedded-simulated"})
            execute(rj, ctx, [_scenario([_act("a", outcome="interrupt"), _act("b")]),
                              _scenario([_act("c")], name="later")])
    document = load(tmp_path / "journal.json")
    assert verify_chain(document) == []
    assert document["status"] == "interrupted" and document["exit_code"] == 130
    first, later = document["scenarios"]
    assert first["interrupted"] and first["rollbacks"][0]["status"] == "passed"
    assert later["status"] == "skipped"
    assert "change:passed" in CALLS and any(e["type"] == "interrupted" for e in document["events"])


def test_setup_failure_still_writes_the_journal(ctx, tmp_path) -> None:
    with pytest.raises(InfraError):
        with run_journal(ctx.run_id, tmp_path / "run"):
            raise InfraError("the embedded cloud did not start")
    document = load(tmp_path / "run" / "journal.json")
    assert document["status"] == "failed" and document["exit_code"] == 3
    assert document["error"] == "the embedded cloud did not start"
    assert verify_chain(document) == []
