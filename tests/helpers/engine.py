"""Drill-engine test doubles: a probe and an action registered under test names, and small
builders of validated scenario documents that use them."""

from __future__ import annotations

import _thread
import time
from typing import Any

from drills.engine import registry
from drills.engine.model import Measurement, ProbeResult, Status
from drills.engine.scenario import validate

CALLS: list[str] = []


@registry.probe("test-observe", {"status": {"enum": ["passed", "failed", "not_verified"]},
                                 "value": {"type": "number"}})
def _observe(run: Any, status: str = "passed", value: float = 0) -> ProbeResult:
    CALLS.append(f"observe:{status}")
    return ProbeResult(Status(status), {"value": value}, reason="" if status == "passed" else "because")


@registry.action("test-change", {"outcome": {"enum": ["passed", "failed", "raise", "interrupt", "sleep"]},
                                 "measure": {"type": "number"}})
def _change(run: Any, outcome: str = "passed", measure: float | None = None) -> ProbeResult:
    CALLS.append(f"change:{outcome}")
    if measure is not None:
        run.measure(Measurement("rto", measure, "seconds", objective=60, met=measure <= 60, simulated=True))
    if outcome == "raise":
        raise RuntimeError("boom")
    if outcome == "interrupt":
        _thread.interrupt_main()
        time.sleep(0.5)
    if outcome == "sleep":
        time.sleep(2)
    run.ctx.clock.wait(5)
    return ProbeResult(Status.PASSED if outcome != "failed" else Status.FAILED, {"outcome": outcome})


def scenario(method: list[dict], *, steady: list[dict] | None = None, objectives: list[str] | None = None,
              name: str = "unit"):
    doc = {"name": name, "title": "t", "description": "d", "testType": "functional",
           "steadyState": steady if steady is not None else [{"name": "ok", "probe": "test-observe", "timeout": 5}],
           "method": method, "rollbacks": [{"name": "undo", "action": "test-change", "timeout": 5}]}
    if objectives:
        doc["objectives"] = objectives
    return validate(doc, f"{name}.yaml")


def act(name: str, timeout: float = 5, **arguments: Any) -> dict:
    return {"name": name, "action": "test-change", "arguments": arguments, "timeout": timeout}


def probe_step(name: str, optional: bool = False, tolerance: dict | None = None, **arguments: Any) -> dict:
    item = {"name": name, "probe": "test-observe", "arguments": arguments, "timeout": 5, "optional": optional}
    if tolerance:
        item["tolerance"] = tolerance
    return item
