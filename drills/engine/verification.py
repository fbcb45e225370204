"""The verification ladder around a drill run: the archive's steady state before the scenarios,
again after them, and the final verification — each pass recorded in the journal.

``drkit run`` runs three full ladder passes (``drills.probes.ladder``): ``before`` (the steady
state the drills start from), ``after`` (right after the scenarios and their rollbacks) and
``final`` (the run's verification, with a fresh rung-6 sample). The journal gets them as
``steady_state_before``, ``steady_state_after`` and ``ladder`` (``{"rungs": [...]}``), rung 9's
rows as ``config_in_force`` (JOURNAL.md), and every rung finding in ``findings``.

A rung that failed, or could not verify what it must, makes the run deviate (exit 1); one
that broke is an error (exit 3 when nothing deviated) — ``drills.engine.results.exit_code``.
The scenarios run whatever the steady state before showed: the journal then says the drills
started from an archive that was not in steady state, rather than hiding the drills' results.

Journal events: ``rung`` for each rung of the final ladder (the reports cite them by
``data.rung``), ``steady-state-rung`` (``data.phase`` before/after) for the other passes, and
``finding`` for every rung finding (``data.phase`` says which pass saw it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable

from drills.engine.journal import Journal, canonical
from drills.engine.model import RungResult, Status

PHASES = {"before": "steady_state_before", "after": "steady_state_after", "final": "ladder"}
CONFIG_RUNG = 9


@dataclass(frozen=True)
class LadderSettings:
    """How ``drkit run`` verifies: the rungs (all when None), rung 6's sample per specialty and
    the seed its sample draws from (each pass adds its own offset, so passes sample others)."""

    rungs: tuple[int | str, ...] | None = None
    sample: int = 3
    seed: int | None = None


def ladder_pass(ctx: Any, journal: Journal, phase: str, settings: LadderSettings,
                on_progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Run the ladder once for ``phase`` ("before", "after", "final"); record it in the
    journal document and events; return ``{"rungs": [...]}``."""
    from drills.probes.ladder import run_ladder   # probes register with the engine, not the reverse

    key = PHASES[phase]
    event_type = "rung" if phase == "final" else "steady-state-rung"
    seed = None if settings.seed is None else settings.seed + list(PHASES).index(phase)
    journal.event("ladder-started", data={"phase": phase, "rungs": list(settings.rungs or []) or "all",
                                          "sample": settings.sample, "seed": seed})

    def progress(rung: Any, result: RungResult) -> None:
        data = {"phase": phase, "rung": result.rung, "name": result.name, "status": result.status.value,
                "findings": len(result.findings), "reason": result.reason}
        journal.event(event_type, data=data)
        for finding in result.findings:
            journal.event("finding", data={**finding.to_json(), "phase": phase, "rung": result.rung})
        if on_progress:
            on_progress(f"  ladder ({phase}) rung {result.rung} {result.name}: {result.status.value}")

    results = run_ladder(ctx, rungs=list(settings.rungs) if settings.rungs else None, sample=settings.sample,
                         seed=seed, progress=progress)
    recorded = {"rungs": [r.to_json() for r in results]}
    journal.document[key] = recorded
    if phase == "final":
        journal.document["config_in_force"] = config_in_force(recorded["rungs"])
    return recorded


def config_in_force(rungs: Iterable[dict[str, Any]]) -> dict[str, Any] | None:
    """JOURNAL.md's ``config_in_force`` from rung 9's rows: one row per property; a row whose
    declared and observed values are objects with the same keys becomes one row per key (so
    "object lock default retention mode" and "... days" each carry their own drift).
    None when rung 9 did not run; ``not_verified`` carries its reason when it read nothing."""
    rung = next((r for r in rungs if r.get("rung") == CONFIG_RUNG), None)
    if rung is None:
        return None
    resources: list[dict[str, Any]] = []
    for row in (rung.get("counts") or {}).get("checks", []):
        prop = str(row["check"]).replace("-", " ")
        declared, observed = row["declared"], row["observed"]
        if isinstance(declared, dict) and isinstance(observed, dict) and declared.keys() == observed.keys():
            for name in declared:
                resources.append({"resource": row["resource"], "property": f"{prop} {name}",
                                  "declared": declared[name], "observed": observed[name],
                                  "drift": declared[name] != observed[name]})
        else:
            resources.append({"resource": row["resource"], "property": prop, "declared": declared,
                              "observed": observed, "drift": not row["ok"]})
    result: dict[str, Any] = {"resources": resources, "status": rung.get("status")}
    if rung.get("status") != Status.PASSED.value and rung.get("reason"):
        result["not_verified"] = rung["reason"]
    return result


def passes(document: dict[str, Any]) -> list[dict[str, Any]]:
    """Every recorded rung of every pass (before, after, final)."""
    return [r for key in PHASES.values() for r in ((document.get(key) or {}).get("rungs") or [])]


def statuses(document: dict[str, Any]) -> list[Status]:
    return [Status(r["status"]) for r in passes(document)]


def findings(document: dict[str, Any]) -> list[dict[str, Any]]:
    """Rung findings of every pass, each once (the same defect seen before and after is one
    finding; its ``phases`` say which passes saw it)."""
    seen: dict[bytes, dict[str, Any]] = {}
    for phase, key in PHASES.items():
        for rung in ((document.get(key) or {}).get("rungs") or []):
            for finding in rung.get("findings") or []:
                ident = canonical(finding)
                entry = seen.setdefault(ident, {**finding, "rung": rung["rung"], "phases": []})
                entry["phases"].append(phase)
    return list(seen.values())


def deviated(document: dict[str, Any]) -> bool:
    return any(s in (Status.FAILED, Status.NOT_VERIFIED) for s in statuses(document))
