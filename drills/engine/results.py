"""From activity outcomes to a scenario status, and from the run to its exit code — the one
place both are decided (DESIGN.md exit codes).

- A scenario is ``failed`` when a probe deviated, a tolerance did not hold, an action
  failed, or a measured objective was breached; ``not_verified`` when something it must
  observe could not be observed (an optional probe's not_verified does not count; its
  reason stays in the journal); ``error`` when an activity or a rollback broke.
- Exit code: 130 interrupted; else 1 if any scenario failed or was not verified; else 3 if
  any broke; else 0. (2 — invalid input — is raised before anything runs.)
"""

from __future__ import annotations

from typing import Any, Iterable

from drills.engine.model import EXIT_DEVIATED, EXIT_INFRA, EXIT_OK, Measurement, Status, worst

EXIT_INTERRUPTED = 130


def activity_counts(activity: dict[str, Any]) -> Status:
    """How one journal Activity counts toward its scenario."""
    status = Status(activity["status"])
    if activity.get("optional") and status in (Status.NOT_VERIFIED, Status.FAILED):
        return Status.PASSED
    return status


def measurement_status(measurement: Measurement) -> Status:
    if measurement.value is None:
        return Status.NOT_VERIFIED
    if measurement.met is False:
        return Status.FAILED
    return Status.PASSED


def scenario_status(activities: Iterable[dict[str, Any]], measurements: Iterable[Measurement],
                    required_measurements: Iterable[str] = ()) -> Status:
    statuses = [activity_counts(a) for a in activities if a["status"] != Status.SKIPPED.value]
    measured = list(measurements)
    statuses += [measurement_status(m) for m in measured]
    names = {m.name for m in measured}
    statuses += [Status.NOT_VERIFIED for name in required_measurements if name not in names]
    if not statuses:
        return Status.SKIPPED
    return worst(statuses)


def exit_code(scenario_statuses: Iterable[Status | str], *, interrupted: bool = False,
              ladder: Iterable[Status | str] = ()) -> int:
    if interrupted:
        return EXIT_INTERRUPTED
    statuses = [Status(s) for s in list(scenario_statuses) + list(ladder)]
    if any(s in (Status.FAILED, Status.NOT_VERIFIED) for s in statuses):
        return EXIT_DEVIATED
    if any(s is Status.ERROR for s in statuses):
        return EXIT_INFRA
    return EXIT_OK


def objective_measurement(name: str, value: float | None, objective: float | None, unit: str, *,
                          simulated: bool, detail: dict[str, Any] | None = None) -> Measurement:
    """A Measurement compared ``value <= objective`` (None value: could not be measured)."""
    met = None if value is None or objective is None else value <= objective
    return Measurement(name=name, value=None if value is None else round(float(value), 3), unit=unit,
                       objective=objective, met=met, simulated=simulated, detail=detail or {})
