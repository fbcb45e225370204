"""Result -> exit code, decided in one place (DESIGN.md: 0/1/2/3; 130 interrupted)."""

from __future__ import annotations

import pytest

from drills.engine.model import Measurement, Status
from drills.engine.results import exit_code, objective_measurement, scenario_status


@pytest.mark.parametrize("statuses, code", [
    ([Status.PASSED, Status.PASSED], 0),
    ([Status.PASSED, Status.SKIPPED], 0),
    ([Status.PASSED, Status.FAILED], 1),
    ([Status.NOT_VERIFIED], 1),
    ([Status.ERROR], 3),
    ([Status.ERROR, Status.FAILED], 1),
    ([], 0),
])
def test_exit_code(statuses, code) -> None:
    assert exit_code(statuses) == code


def test_interrupted_and_ladder() -> None:
    assert exit_code([Status.PASSED], interrupted=True) == 130
    assert exit_code([Status.PASSED], ladder=[Status.NOT_VERIFIED]) == 1


def test_scenario_status_counts_optional_and_measurements() -> None:
    passed = {"status": "passed"}
    optional_nv = {"status": "not_verified", "optional": True}
    assert scenario_status([passed, optional_nv], []) is Status.PASSED
    assert scenario_status([passed, {"status": "not_verified"}], []) is Status.NOT_VERIFIED
    breached = objective_measurement("rpo", 1200, 900, "seconds", simulated=True)
    assert breached.met is False and scenario_status([passed], [breached]) is Status.FAILED
    unmeasured = Measurement("rto", None, "seconds", objective=60)
    assert scenario_status([passed], [unmeasured]) is Status.NOT_VERIFIED
    assert scenario_status([passed], [], required_measurements=["rto"]) is Status.NOT_VERIFIED
    assert scenario_status([{"status": "skipped"}], []) is Status.SKIPPED
