"""The pause-replication drill step: the stack's FIS template found and started through the
FIS API; a template whose targets resolve to nothing fails the drill (FIS would skip or fail
the experiment quietly), as REFERENCE.md requires."""

from __future__ import annotations

from dataclasses import replace

import pytest

from drills.actions.fis import await_end, start_pause, stop
from drills.cloud.control import HttpControl
from drills.engine.clock import VirtualClock
from drills.engine.context import DrillContext
from drills.engine.journal import Journal
from drills.engine.model import Status
from drills.engine.runner import ScenarioRun
from drills.engine.scenario import validate
from tests.drills.cloud.test_fis import _buckets, _template
from tests.drills.engine.conftest import document, outputs


@pytest.fixture
def make_run(cloud, client):
    def make(tag_value: str = "stack-a", mode: str = "fail"):
        src, dst = _buckets(client)
        _template(client("fis", "us-east-1"), dst, tag_value=tag_value, mode=mode)
        control = HttpControl(cloud.endpoint)
        ctx = DrillContext(target=cloud.target, outputs=replace(outputs(), archiveBucket=src, replicaBucket=dst),
                           clock=VirtualClock(control), control=control, run_id="20260101T000000Z-abcdef")
        scenario = validate(document(), "unit.yaml")
        run = ScenarioRun(ctx, scenario, Journal(ctx.run_id, lambda: "2026-01-01T00:00:00.000Z"))
        run.activity = replace(scenario.method[0], timeout=600)
        return run
    return make


def test_the_stack_template_is_found_started_and_followed_to_its_end(make_run) -> None:
    run = make_run()
    started = start_pause(run)
    assert started.status is Status.PASSED, started.reason
    assert started.output["status"] == "running" and started.output["duration"] == "PT10M"
    assert run.state["experiment_id"].startswith("EXP")
    run.activity = replace(run.activity, timeout=3600)
    ended = await_end(run)
    assert ended.status is Status.PASSED and ended.output["status"] == "completed"
    assert (run.state["fault_end_at"] - run.state["fault_at"]).total_seconds() == pytest.approx(600, abs=1)
    assert stop(run).output["stopped"] is False                   # nothing left to stop


def test_targets_resolving_to_nothing_fail_the_drill(make_run) -> None:
    result = start_pause(make_run(tag_value="another-stack"))
    assert result.status is Status.FAILED and "resolved to no resources" in result.reason


def test_a_skipped_action_fails_the_drill_too(make_run) -> None:
    result = start_pause(make_run(tag_value="another-stack", mode="skip"))
    assert result.status is Status.FAILED and "skipped" in result.reason


def test_no_template_for_this_stack_fails_the_drill(make_run) -> None:
    run = make_run()
    run.ctx.outputs = replace(run.ctx.outputs, replicaBucket="some-other-replica")
    result = start_pause(run)
    assert result.status is Status.FAILED and "no FIS template" in result.reason
