"""The ladder as a registered probe (``verification-ladder``): a scenario's steady state can call it."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from drills.engine.model import Status
from drills.engine.registry import get
from drills.engine.scenario import ScenarioError, validate
from tests.drills.engine.conftest import document
from tests.drills.probes.plant import replica_version_deleted


def _with_ladder_probe(arguments: dict) -> dict:
    doc = document()
    doc["steadyState"] = [{"name": "archive-verified", "probe": "verification-ladder", "arguments": arguments,
                           "tolerance": {"output": "failed", "max": 0}, "timeout": 600}]
    return doc


def test_a_scenario_may_call_the_ladder_with_chosen_rungs() -> None:
    scenario = validate(_with_ladder_probe({"rungs": [1, "stored-checksums"], "sample": 0}), "unit.yaml")
    assert scenario.steady_state[0].provider == "verification-ladder"


def test_an_unknown_rung_is_refused_naming_the_field() -> None:
    with pytest.raises(ScenarioError) as info:
        validate(_with_ladder_probe({"rungs": [10]}), "unit.yaml")
    assert info.value.exit_code == 2 and "steadyState[0].arguments.rungs[0]" in str(info.value)


def test_the_probe_passes_on_a_healthy_stack_and_fails_on_a_missing_replica(stack) -> None:
    provider = get("probe", "verification-ladder")
    run = SimpleNamespace(ctx=stack.ctx())
    healthy = provider.fn(run, rungs=[1, 4])
    assert healthy.status is Status.PASSED and healthy.output["passed"] == 2 and not healthy.findings
    assert [r["rung"] for r in healthy.output["rungs"]] == [1, 4]
    with replica_version_deleted(stack, *stack.current(0)):
        broken = provider.fn(run, rungs=[1, 4])
    assert broken.status is Status.FAILED and broken.output["failed"] == 2
    assert broken.findings and all(f.resource for f in broken.findings)
