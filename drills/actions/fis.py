"""The stack's FIS drill template: pause replication (``aws:s3:bucket-pause-replication``).

The template is found through the FIS API (no stack output names it): the one whose
pause-replication action targets the stack's replica bucket (``destinationBuckets``) or,
without that parameter, the DR region. A template that resolves to no bucket fails the
experiment (``emptyTargetResolutionMode: fail``) — and an action FIS *skipped* because its
targets resolved to nothing fails the drill too (REFERENCE.md: FIS skips silently).
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from drills.engine.clock import iso, poll
from drills.engine.model import ProbeResult, Status
from drills.engine.registry import action

PAUSE_REPLICATION = "aws:s3:bucket-pause-replication"
_DONE = ("completed", "stopped", "failed", "cancelled")


def find_template(run: Any) -> dict[str, Any] | None:
    out = run.ctx.outputs
    fis = run.ctx.client("fis", out.primaryRegion)
    token = None
    while True:
        page = fis.list_experiment_templates(**({"nextToken": token} if token else {}))
        for summary in page.get("experimentTemplates", []):
            template = fis.get_experiment_template(id=summary["id"])["experimentTemplate"]
            for act in template.get("actions", {}).values():
                if act.get("actionId") != PAUSE_REPLICATION:
                    continue
                params = act.get("parameters", {})
                dests = [d.strip() for d in params.get("destinationBuckets", "").split(",") if d.strip()]
                if (dests and out.replicaBucket in dests) or (not dests and params.get("region") == out.drRegion):
                    return template
        token = page.get("nextToken")
        if not token:
            return None


def _plan(run: Any, **_: Any) -> list[str]:
    return [f"fis:StartExperiment from the template pausing replication into {run.ctx.outputs.replicaBucket} "
            f"({run.ctx.outputs.primaryRegion})"]


@action("fis-pause-replication", {}, plan=_plan)
def start_pause(run: Any) -> ProbeResult:
    """Start the stack's pause-replication experiment and wait until it runs."""
    ctx = run.ctx
    fis = ctx.client("fis", ctx.outputs.primaryRegion)
    try:
        template = find_template(run)
        if template is None:
            return ProbeResult(Status.FAILED, {}, reason="no FIS template pauses replication into "
                                                         f"{ctx.outputs.replicaBucket}")
        started = fis.start_experiment(clientToken=f"drkit-{ctx.run_id}", experimentTemplateId=template["id"],
                                       tags={"drkit-run": ctx.run_id})["experiment"]
        run.state["experiment_id"] = started["id"]
        run.state["fault_at"] = ctx.clock.now()
        result = poll(ctx.clock, lambda: _state(fis, started["id"], ("running",) + _DONE),
                      timeout_s=run.timeout_s, interval_s=5)
    except (ClientError, BotoCoreError) as exc:
        return ProbeResult(Status.ERROR, {}, reason=f"FIS call failed: {exc}")
    experiment = result.value or {}
    output = _summary(template, experiment)
    status = experiment.get("state", {}).get("status")
    skipped = [n for n, a in experiment.get("actions", {}).items() if a.get("state", {}).get("status") == "skipped"]
    if skipped:
        return ProbeResult(Status.FAILED, output, reason=f"FIS skipped {skipped}: the targets resolved to nothing")
    if status != "running":
        return ProbeResult(Status.FAILED, output, reason=f"experiment {status or 'did not start'}: "
                                                         f"{experiment.get('state', {}).get('reason', '')}")
    run.state["pause_duration"] = output["duration"]
    return ProbeResult(Status.PASSED, output)


@action("fis-await-end", {})
def await_end(run: Any) -> ProbeResult:
    """Wait (on the drill clock) until the experiment has ended; record when."""
    ctx = run.ctx
    experiment_id = run.state.get("experiment_id")
    if not experiment_id:
        return ProbeResult(Status.SKIPPED, {}, reason="no experiment was started")
    fis = ctx.client("fis", ctx.outputs.primaryRegion)
    result = poll(ctx.clock, lambda: _state(fis, experiment_id, _DONE), timeout_s=run.timeout_s, interval_s=30)
    experiment = result.value or {}
    if not result.satisfied:
        return ProbeResult(Status.FAILED, {"experiment": experiment_id},
                           reason="the experiment did not end within the timeout")
    end = experiment.get("endTime")
    run.state["fault_end_at"] = end.astimezone(timezone.utc) if isinstance(end, datetime) else ctx.clock.now()
    status = experiment["state"]["status"]
    output = {"experiment": experiment_id, "status": status, "ended": iso(run.state["fault_end_at"])}
    return ProbeResult(Status.PASSED if status == "completed" else Status.FAILED, output,
                       reason="" if status == "completed" else experiment["state"].get("reason", status))


@action("fis-stop", {})
def stop(run: Any) -> ProbeResult:
    """Stop the experiment if it still runs (rollback)."""
    experiment_id = run.state.get("experiment_id")
    if not experiment_id:
        return ProbeResult(Status.PASSED, {"stopped": False, "reason": "no experiment was started"})
    fis = run.ctx.client("fis", run.ctx.outputs.primaryRegion)
    experiment = fis.get_experiment(id=experiment_id)["experiment"]
    if experiment["state"]["status"] in _DONE:
        return ProbeResult(Status.PASSED, {"stopped": False, "status": experiment["state"]["status"]})
    experiment = fis.stop_experiment(id=experiment_id)["experiment"]
    return ProbeResult(Status.PASSED, {"stopped": True, "status": experiment["state"]["status"]})


def _state(fis: Any, experiment_id: str, wanted: tuple[str, ...]) -> dict[str, Any] | None:
    experiment = fis.get_experiment(id=experiment_id)["experiment"]
    return experiment if experiment["state"]["status"] in wanted else None


def _summary(template: dict[str, Any], experiment: dict[str, Any]) -> dict[str, Any]:
    params = next((a.get("parameters", {}) for a in template.get("actions", {}).values()
                   if a.get("actionId") == PAUSE_REPLICATION), {})
    return {"template": template["id"], "experiment": experiment.get("id"),
            "status": experiment.get("state", {}).get("status"), "duration": params.get("duration"),
            "region": params.get("region"), "actions": {n: a.get("state", {}).get("status")
                                                        for n, a in experiment.get("actions", {}).items()}}
