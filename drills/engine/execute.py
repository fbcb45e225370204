"""One drill run, start to end: journal opened, scenarios run, exit code decided, journal
written — always, also when setup broke, a scenario raised, or Ctrl-C arrived.

``execute`` is what ``drkit run`` calls once the context is ready; ``run_journal`` is the
guard it and the embedded setup share: whatever happens inside, ``journal.json`` is written
into the run dir before the exception (or the exit code) leaves.
"""

from __future__ import annotations

import contextlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator

from botocore.exceptions import BotoCoreError, ClientError

from drills.engine import verification
from drills.engine.clock import Clock, WallClock, iso
from drills.engine.context import DrillContext, Manifest
from drills.engine.journal import Journal
from drills.engine.model import EXIT_INFRA, EXIT_USAGE, Status
from drills.engine.results import EXIT_INTERRUPTED, exit_code
from drills.engine.runner import run_scenarios
from drills.engine.scenario import Scenario
from drills.errors import DrkitError


def new_run_id(now: datetime | None = None) -> str:
    stamp = (now or datetime.now(timezone.utc)).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{secrets.token_hex(3)}"


@dataclass
class RunResult:
    document: dict[str, Any]
    exit_code: int
    path: Path


class RunJournal:
    """The journal of a run plus the clock its times come from (replaceable once the cloud is up)."""

    def __init__(self, run_id: str, run_dir: Path, clock: Clock | None = None) -> None:
        self.run_dir = run_dir
        self.clock: Clock = clock or WallClock()
        self.journal = Journal(run_id, lambda: iso(self.clock.now()))
        self.started_at: datetime | None = None
        self.exit_code: int | None = None

    def start(self, clock: Clock, **fields: Any) -> None:
        self.clock = clock
        self.started_at = clock.now()
        self.journal.document.update(fields)
        self.journal.document["clock"] = clock.kind
        self.journal.document["start"] = iso(self.started_at)
        self.journal.event("run-started", data={"target": fields.get("target"), "clock": clock.kind})

    def hold_clock(self) -> None:
        """The embedded cloud is about to stop: from now on the journal's times are its virtual
        clock's last reading, held here (still simulated; never the wall clock)."""
        held = getattr(self.clock, "held", None)
        if held is not None:
            try:
                self.clock = held(self.started_at)
            except ValueError:            # never read: nothing to hold, nothing stamped from it yet
                pass

    def finish(self, status: str, code: int, error: str | None = None) -> Path:
        end = self.clock.now()
        doc = self.journal.document
        doc["end"] = iso(end)
        start = self.started_at or end
        doc["duration_s"] = round((end - start).total_seconds(), 3)
        if doc["start"] is None:
            doc["start"] = iso(start)
        doc["status"] = status
        doc["exit_code"] = code
        doc["deviated"] = any(s.get("deviated") for s in doc["scenarios"]) or verification.deviated(doc)
        doc["findings"] = [f for s in doc["scenarios"] for f in s.get("findings", [])] + verification.findings(doc)
        if error:
            doc["error"] = error
        self.journal.event("run-ended", data={"status": status, "exit_code": code, "error": error})
        self.exit_code = code
        return self.journal.write(self.run_dir)


@contextlib.contextmanager
def run_journal(run_id: str, run_dir: Path) -> Iterator[RunJournal]:
    """Yield a RunJournal; if the body raises (or Ctrl-C), write the journal, then re-raise."""
    rj = RunJournal(run_id, run_dir)
    try:
        yield rj
    except KeyboardInterrupt:
        if rj.exit_code is None:
            rj.finish("interrupted", EXIT_INTERRUPTED, "interrupted (Ctrl-C)")
        raise
    except DrkitError as exc:
        if rj.exit_code is None:
            rj.finish("failed" if exc.exit_code != EXIT_USAGE else "aborted", exc.exit_code, str(exc))
        raise
    except Exception as exc:
        if rj.exit_code is None:
            rj.finish("failed", EXIT_INFRA, f"{type(exc).__name__}: {exc}")
        raise


def execute(rj: RunJournal, ctx: DrillContext, scenarios: list[Scenario], *,
            on_progress: Callable[[str], None] | None = None,
            ladder: verification.LadderSettings | None = None) -> RunResult:
    """Run ``scenarios`` in ``ctx``; write the journal; return it with the exit code.

    With ``ladder``: the verification ladder before the scenarios, after them and once more
    as the final verification (``drills.engine.verification``); its rungs count toward the
    exit code like scenarios."""
    if ladder is not None:
        verification.ladder_pass(ctx, rj.journal, "before", ladder, on_progress)
    outcome = run_scenarios(ctx, scenarios, rj.journal, on_progress=on_progress)
    if ladder is not None and not outcome.interrupted:
        verification.ladder_pass(ctx, rj.journal, "after", ladder, on_progress)
        verification.ladder_pass(ctx, rj.journal, "final", ladder, on_progress)
    rungs = verification.statuses(rj.journal.document)
    code = exit_code(outcome.statuses, interrupted=outcome.interrupted, ladder=rungs)
    if outcome.interrupted:
        path = rj.finish("interrupted", code, "interrupted (Ctrl-C)")
        raise KeyboardInterrupt
    failed = any(s is Status.ERROR for s in outcome.statuses + rungs)
    path = rj.finish("failed" if failed else "completed", code)
    return RunResult(rj.journal.to_document(), code, path)


def caller_identity(ctx: DrillContext) -> str:
    """Who runs the drill, for the journal's ``actor`` on every activity: the caller's ARN
    (STS GetCallerIdentity) on AWS; on the embedded cloud moto's test credentials."""
    if ctx.target.simulated:
        return "embedded (moto test credentials)"
    try:
        return str(ctx.target.client("sts", ctx.outputs.primaryRegion).get_caller_identity()["Arn"])
    except (ClientError, BotoCoreError) as exc:
        return f"unknown (sts:GetCallerIdentity failed: {type(exc).__name__})"


def target_info(ctx: DrillContext) -> dict[str, Any]:
    return {"kind": ctx.target.kind, "endpoint": ctx.target.endpoint, "simulated": ctx.target.simulated}


def scope_info(prefix: str, manifest: Manifest | None) -> dict[str, Any]:
    """Counts of what the drill covers (from the manifest when known); no identifiers."""
    scope: dict[str, Any] = {"prefix": prefix}
    if manifest is None:
        scope.update({"studies": None, "series": None, "instances": None, "bytes": None,
                      "note": "no manifest: scope counts come from the drills' own listings"})
        return scope
    items = manifest.instances
    scope.update({"studies": len({i.study_uid for i in items}), "series": len({i.series_uid for i in items}),
                  "instances": len(items), "bytes": manifest.total_bytes})
    for field, name in (("specialty", "by_specialty"), ("modality", "by_modality")):
        groups: dict[str, dict[str, Any]] = {}
        for value in sorted({getattr(i, field) or "unknown" for i in items}):
            members = [i for i in items if (getattr(i, field) or "unknown") == value]
            groups[value] = {"studies": len({i.study_uid for i in members}), "instances": len(members),
                             "bytes": sum(i.size for i in members)}
        scope[name] = groups
    return scope


