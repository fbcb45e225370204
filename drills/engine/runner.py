"""Run scenarios: steady state -> method -> steady state again -> rollbacks, into the journal.

Per scenario (Chaos Toolkit's order):
1. steady-state hypothesis: its probes and tolerances. If it does not hold, the method does
   not run (nothing was changed, nothing to roll back) and the scenario fails.
2. method: actions and probes in order. An action that fails or breaks stops the method
   (the rest is skipped with the reason); a probe that deviates is recorded and the method
   goes on, so failback still happens.
3. the hypothesis again, then rollbacks — always, also after a failure or Ctrl-C.

Each activity runs in a worker thread under a wall-clock guard: its ``timeout`` on AWS,
``EMBEDDED_GUARD_S`` real seconds on the embedded cloud, where ``timeout`` bounds the
activity's own waits on the *virtual* clock. A timed-out or broken activity is recorded
as ``error``, never raised through. Ctrl-C: the current activity is recorded as
interrupted, rollbacks run (a second Ctrl-C skips them), the journal is written, and the
interrupt propagates (exit 130).
"""

from __future__ import annotations

import threading
import traceback
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable

from drills.engine import registry
from drills.engine.clock import iso
from drills.engine.context import DrillContext
from drills.engine.journal import Journal
from drills.engine.model import Finding, Measurement, ProbeResult, Status
from drills.engine.results import scenario_status
from drills.engine.scenario import OBJECTIVE_MEASUREMENTS, ActivitySpec, Scenario
from drills.errors import DrkitError

EMBEDDED_GUARD_S = 180.0


class Interrupted(Exception):
    """Raised inside the runner when Ctrl-C arrives during an activity."""


@dataclass
class ScenarioRun:
    """What a provider receives: the context, the scenario's shared state and recorders."""

    ctx: DrillContext
    scenario: Scenario
    journal: Journal
    state: dict[str, Any] = field(default_factory=dict)
    measurements: list[Measurement] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    phases: list[dict[str, Any]] = field(default_factory=list)
    attempts: list[dict[str, Any]] = field(default_factory=list)
    lag_samples: list[float] = field(default_factory=list)
    activity: ActivitySpec | None = None

    @property
    def timeout_s(self) -> float:
        """The current activity's timeout, in the clock's time (simulated on the embedded cloud)."""
        return self.activity.timeout if self.activity else 600.0

    def now(self) -> datetime:
        return self.ctx.clock.now()

    def measure(self, measurement: Measurement) -> None:
        self.measurements.append(measurement)
        self.journal.event("measurement", scenario=self.scenario.name,
                           activity=self.activity.name if self.activity else None, data=measurement.to_json())

    def finding(self, finding: Finding) -> None:
        self.findings.append(finding)
        self.journal.event("finding", scenario=self.scenario.name,
                           activity=self.activity.name if self.activity else None, data=finding.to_json())

    def phase(self, name: str, start: datetime, end: datetime) -> None:
        entry = {"name": name, "start": iso(start), "end": iso(end),
                 "duration_s": round((end - start).total_seconds(), 3)}
        self.phases.append(entry)
        self.journal.event("phase", scenario=self.scenario.name, data=entry)

    def attempt(self, action: str, outcome: str, error_code: str | None = None, count: int = 1) -> None:
        self.attempts.append({"action": action, "outcome": outcome, "error_code": error_code, "count": count})

    def note(self, type_: str, data: dict[str, Any]) -> None:
        """Any other event worth the audit trail (e.g. which method observed a detection)."""
        self.journal.event(type_, scenario=self.scenario.name,
                           activity=self.activity.name if self.activity else None, data=data)


@dataclass
class RunOutcome:
    scenarios: list[dict[str, Any]]
    interrupted: bool = False

    @property
    def statuses(self) -> list[Status]:
        return [Status(s["status"]) for s in self.scenarios]


def run_scenarios(ctx: DrillContext, scenarios: list[Scenario], journal: Journal, *,
                  on_progress: Callable[[str], None] | None = None) -> RunOutcome:
    """Run each scenario in order; journal entries are appended as they complete."""
    outcome = RunOutcome(scenarios=journal.document["scenarios"])
    for scenario in scenarios:
        if outcome.interrupted:
            outcome.scenarios.append(_skipped(scenario, "the run was interrupted"))
            continue
        if on_progress:
            on_progress(f"scenario {scenario.name}: {scenario.title}")
        entry, interrupted = _run_one(ctx, scenario, journal, on_progress)
        outcome.scenarios.append(entry)
        outcome.interrupted = interrupted
    return outcome


def _run_one(ctx: DrillContext, scenario: Scenario, journal: Journal,
             on_progress: Callable[[str], None] | None) -> tuple[dict[str, Any], bool]:
    run = ScenarioRun(ctx, scenario, journal)
    start = ctx.clock.now()
    journal.event("scenario-started", scenario=scenario.name,
                  data={"document_sha256": scenario.sha256, "source": scenario.source})
    sections: dict[str, list[dict[str, Any]]] = {"steady_state_before": [], "method": [],
                                                 "steady_state_after": [], "rollbacks": []}
    interrupted = False
    try:
        before_ok = _section(run, scenario.steady_state, sections["steady_state_before"], on_progress, stop_on="any")
        if before_ok:
            _section(run, scenario.method, sections["method"], on_progress, stop_on="action")
            _section(run, scenario.steady_state, sections["steady_state_after"], on_progress, stop_on=None)
        else:
            for spec in scenario.method:
                sections["method"].append(_skip(spec, "steady state did not hold before the method"))
    except (Interrupted, KeyboardInterrupt):
        interrupted = True
        journal.event("interrupted", scenario=scenario.name, data={"reason": "Ctrl-C"})
        for name, specs in (("steady_state_before", scenario.steady_state), ("method", scenario.method),
                            ("steady_state_after", scenario.steady_state)):
            done = len(sections[name])
            sections[name] += [_skip(spec, "interrupted (Ctrl-C)") for spec in specs[done:]]
    if _method_ran(sections):
        try:
            _section(run, scenario.rollbacks, sections["rollbacks"], on_progress, stop_on=None, rollback=True)
        except (Interrupted, KeyboardInterrupt):
            interrupted = True
            journal.event("interrupted", scenario=scenario.name, data={"reason": "Ctrl-C during rollbacks"})
    else:
        sections["rollbacks"] = [_skip(s, "the method did not run") for s in scenario.rollbacks]
    end = ctx.clock.now()
    required = [OBJECTIVE_MEASUREMENTS[o] for o in scenario.objectives]
    activities = [a for name in ("steady_state_before", "method", "steady_state_after", "rollbacks")
                  for a in sections[name]]
    status = Status.ERROR if interrupted else scenario_status(activities, run.measurements, required)
    objectives = ctx.outputs.objectives
    entry = {
        "name": scenario.name, "title": scenario.title, "description": scenario.description,
        "tags": list(scenario.tags), "document_sha256": scenario.sha256, "test_type": scenario.test_type,
        "objectives": {"rtoMinutes": objectives.rtoMinutes, "rpoMinutes": objectives.rpoMinutes,
                       "restoreHours": objectives.restoreHours},
        "measures": list(scenario.objectives), "abort_conditions": abort_conditions(scenario, ctx.clock.simulated),
        "status": status.value, "deviated": status in (Status.FAILED, Status.NOT_VERIFIED),
        "interrupted": interrupted,
        "start": iso(start), "end": iso(end), "duration_s": round((end - start).total_seconds(), 3),
        "simulated": ctx.clock.simulated,
        **sections,
        "phases": run.phases, "measurements": [m.to_json() for m in run.measurements],
        "findings": [f.to_json() for f in run.findings], "attempts": run.attempts,
        "replication_lag_s": [round(x, 3) for x in run.lag_samples],
    }
    journal.event("scenario-ended", scenario=scenario.name, data={"status": status.value})
    return entry, interrupted


def abort_conditions(scenario: Scenario, simulated: bool) -> list[str]:
    """When this engine stops a scenario's method — declared before it runs (the report's
    section 3): the steady state, a failing action, each activity's timeout, Ctrl-C."""
    clock = "simulated seconds on the virtual clock" if simulated else "seconds"
    return ["the steady-state hypothesis does not hold before the method: the method does not run",
            "an action fails or breaks: the rest of the method is skipped, rollbacks still run",
            *(f"{spec.kind} {spec.name} exceeds its timeout of {spec.timeout:g} {clock}" for spec in scenario.method),
            "Ctrl-C: the current activity is recorded as interrupted, rollbacks run (a second Ctrl-C skips them)"]


def _method_ran(sections: dict[str, list[dict[str, Any]]]) -> bool:
    """Rollbacks run when any method activity ran (something may have changed)."""
    return any(a["status"] != Status.SKIPPED.value for a in sections["method"])


def _section(run: ScenarioRun, specs: tuple[ActivitySpec, ...], out: list[dict[str, Any]],
             on_progress: Callable[[str], None] | None, *, stop_on: str | None, rollback: bool = False) -> bool:
    """Run ``specs`` into ``out``; return False when one that counts did not pass."""
    ok = True
    stopped: str | None = None
    for spec in specs:
        if stopped:
            out.append(_skip(spec, stopped))
            continue
        if on_progress:
            on_progress(f"  {'rollback' if rollback else spec.kind} {spec.name}")
        try:
            activity = _run_activity(run, spec)
        except Interrupted:
            out.append(_interrupted(run, spec))
            raise
        out.append(activity)
        status = Status(activity["status"])
        counts = not (spec.optional and status in (Status.NOT_VERIFIED, Status.FAILED))
        if status is not Status.PASSED and counts:
            ok = False
            if stop_on == "any" or (stop_on == "action" and spec.kind == "action"):
                stopped = f"{spec.kind} {spec.name!r} ended {status.value}"
    return ok


def _run_activity(run: ScenarioRun, spec: ActivitySpec) -> dict[str, Any]:
    ctx, journal = run.ctx, run.journal
    provider = registry.get(spec.kind, spec.provider)
    assert provider is not None            # validated with the document
    run.activity = spec
    start = ctx.clock.now()
    journal.event("activity-started", scenario=run.scenario.name, activity=spec.name,
                  data={"type": spec.kind, "provider": spec.provider, "arguments": spec.arguments})
    result, error = _call(run, provider, spec)
    if result is not None and spec.tolerance is not None and result.status is Status.PASSED:
        holds, why = spec.tolerance.holds(result.output)
        if holds is not True:
            result = ProbeResult(Status.NOT_VERIFIED if holds is None else Status.FAILED,
                                 result.output, result.findings, why)
    for finding in (result.findings if result else ()):
        run.finding(finding)
    end = ctx.clock.now()
    status = result.status if result else Status.ERROR
    activity = {
        "type": spec.kind, "name": spec.name, "provider": spec.provider, "arguments": spec.arguments,
        "status": status.value, "start": iso(start), "end": iso(end),
        "duration_s": round((end - start).total_seconds(), 3), "output": result.output if result else {},
        "error": error or (result.reason if result and status is not Status.PASSED and result.reason else None),
        "reason": result.reason if result else error, "optional": spec.optional, "actor": ctx.actor,
        "tolerance": spec.tolerance.to_json() if spec.tolerance else None,
    }
    activity["event"] = journal.event("activity-ended", scenario=run.scenario.name, activity=spec.name,
                                      data={"status": status.value, "error": activity["error"]})
    run.activity = None
    return activity


def _call(run: ScenarioRun, provider: registry.Provider, spec: ActivitySpec) -> tuple[ProbeResult | None, str | None]:
    """Run the provider in a worker thread under the wall-clock guard; never raise (but Ctrl-C)."""
    box: dict[str, Any] = {}

    def work() -> None:
        try:
            box["result"] = provider.fn(run, **spec.arguments)
        except DrkitError as exc:
            box["error"] = str(exc)
        except Exception as exc:  # an activity that breaks is recorded, not a crash (STYLE.md)
            box["error"] = f"{type(exc).__name__}: {exc}"
            box["trace"] = traceback.format_exc(limit=6)

    guard = EMBEDDED_GUARD_S if run.ctx.clock.simulated else spec.timeout
    worker = threading.Thread(target=work, name=f"drkit-activity-{spec.name}", daemon=True)
    try:
        worker.start()
        worker.join(guard)
    except KeyboardInterrupt as exc:
        raise Interrupted() from exc
    if worker.is_alive():
        return None, f"timed out after {guard:g} s (wall clock)"
    if "error" in box:
        return None, box["error"]
    result = box.get("result")
    if not isinstance(result, ProbeResult):
        return None, f"provider {spec.provider!r} returned {type(result).__name__}, not a ProbeResult"
    return result, None


def _interrupted(run: ScenarioRun, spec: ActivitySpec) -> dict[str, Any]:
    """The activity Ctrl-C cut short: recorded as an error (it may have changed something)."""
    entry = _skip(spec, "interrupted (Ctrl-C)")
    now = iso(run.ctx.clock.now())
    entry.update(status=Status.ERROR.value, end=now, error="interrupted (Ctrl-C)", actor=run.ctx.actor)
    entry["event"] = run.journal.event("activity-ended", scenario=run.scenario.name, activity=spec.name,
                                       data={"status": Status.ERROR.value, "error": "interrupted (Ctrl-C)"})
    run.activity = None
    return entry


def _skip(spec: ActivitySpec, reason: str) -> dict[str, Any]:
    return {"type": spec.kind, "name": spec.name, "provider": spec.provider, "arguments": spec.arguments,
            "status": Status.SKIPPED.value, "start": None, "end": None, "duration_s": None, "output": {},
            "error": None, "reason": reason, "optional": spec.optional, "event": None,
            "tolerance": spec.tolerance.to_json() if spec.tolerance else None}


def _skipped(scenario: Scenario, reason: str) -> dict[str, Any]:
    return {"name": scenario.name, "title": scenario.title, "description": scenario.description,
            "tags": list(scenario.tags), "document_sha256": scenario.sha256, "test_type": scenario.test_type,
            "status": Status.SKIPPED.value, "deviated": False, "reason": reason,
            "steady_state_before": [], "method": [], "steady_state_after": [], "rollbacks": [],
            "phases": [], "measurements": [], "findings": [], "attempts": []}
