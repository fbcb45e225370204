"""``drkit run [SCENARIO | path.yaml ...]``: the main job — run drills, write the run dir.

With no target configured: start an embedded cloud in this process, deploy the stack offline,
synthesise and ingest the default enterprise data set, run every built-in scenario, write
``out/runs/<UTC stamp>/journal.json``, print a summary table (stderr) and the run dir.
``--target aws --outputs F`` runs against real AWS (wall clock); ``--endpoint URL
--outputs F`` against a running ``drkit cloud serve``.

Safety: every scenario is validated before anything runs; drills write and delete only
under the stack's ``drkit:drill.prefix``; actions that change production routing or
permissions on AWS need ``--allow-prod``; ``--dry-run`` prints the plan (each action and
what it would touch) and calls nothing that writes — no cloud, no run dir.

Exit codes: 0 every objective met, 1 a drill deviated / objective breached / not verified,
2 invalid input, 3 infrastructure or tool error, 130 interrupted (journal still written).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from drills.cli.common import emit_json, resolve_target, say, target_options
from drills.contracts import Objectives, StackOutputs
from drills.engine import registry
from drills.engine.clock import VirtualClock, WallClock
from drills.engine.context import DrillContext
from drills.engine.execute import RunJournal, execute, new_run_id, run_journal, scope_info, target_info
from drills.engine.journal import dumps
from drills.engine.scenario import Scenario, resolve
from drills.errors import ProjectError, UsageError
from drills.project import Project, find_project

RUNS_DIR = Path("out/runs")


@click.command("run")
@click.argument("scenarios", nargs=-1)
@target_options
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Run directory (default: out/runs/<UTC stamp>/).")
@click.option("--json", "as_json", is_flag=True, help="Print the journal on stdout; human text goes to stderr.")
@click.option("--allow-prod", is_flag=True, help="Allow drills that change production routing or permissions on AWS.")
@click.option("--dry-run", is_flag=True, help="Print the plan (actions and what they touch); call nothing that writes.")
@click.option("--studies", type=click.IntRange(1, 400), default=16, show_default=True,
              help="Synthetic studies ingested on the embedded cloud.")
@click.option("--seed", type=int, default=7, show_default=True, help="Seed of the data set and the simulation.")
@click.option("--restore-tier", type=click.Choice(["Expedited", "Standard", "Bulk"]), default=None,
              help="Glacier restore tier for the backup-restore drill's cold studies (default: the document's).")
def run(scenarios: tuple[str, ...], stack: str, target: str, endpoint: str | None, outputs_file: Path | None,
        project_dir: Path | None, out: Path | None, as_json: bool, allow_prod: bool, dry_run: bool,
        studies: int, seed: int, restore_tier: str | None) -> None:
    """Run drill scenarios (default: every built-in) and write the run dir."""
    chosen = resolve(list(scenarios))                  # the whole documents, validated first (exit 2)
    if target == "aws" and outputs_file is None:
        raise UsageError("--target aws needs --outputs FILE (`pulumi stack output --json > outputs.json`)")
    if endpoint and outputs_file is None:
        raise UsageError("--endpoint needs --outputs FILE from `drkit up`")
    if target == "aws" and not allow_prod:
        _refuse_disruptive(chosen)
    if out is not None and out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is a file; name a directory")
    project = _project(project_dir, required=outputs_file is None)
    declared = _declared(project, stack)
    if dry_run:
        _dry_run(chosen, target, outputs_file, declared, allow_prod, as_json)
        return
    run_id = new_run_id()
    run_dir = out or RUNS_DIR / run_id.split("-")[0]
    if out is None and run_dir.exists():              # two runs in one second: keep both
        run_dir = RUNS_DIR / run_id
    code = run_drills(chosen, run_id, run_dir, project, stack, target=target, endpoint=endpoint,
                      outputs_file=outputs_file, declared=declared, allow_prod=allow_prod, as_json=as_json,
                      studies=studies, seed=seed, restore_tier=restore_tier)
    raise click.exceptions.Exit(code)


def run_drills(chosen: list[Scenario], run_id: str, run_dir: Path, project: Project | None, stack: str, *,
               target: str = "embedded", endpoint: str | None = None, outputs_file: Path | None = None,
               declared: dict[str, Any] | None = None, allow_prod: bool = False, as_json: bool = False,
               studies: int = 16, seed: int = 7, settings: Any = None, restore_tier: str | None = None) -> int:
    """Run ``chosen`` and write ``run_dir``; returns the exit code. With no ``outputs_file``:
    an embedded rehearsal of ``stack`` (``settings``: the simulation's ``SimSettings``)."""
    declared = declared if declared is not None else _declared(project, stack)
    console = Console(stderr=True)
    progress = lambda text: console.print(f"[dim]{text}[/dim]")   # noqa: E731
    with run_journal(run_id, run_dir) as rj:
        rj.journal.document["stack"] = {"name": stack, "outputs": None, "declared": _declared_summary(declared)}
        if outputs_file is None:
            from drills.cli.rehearsal import embedded_rehearsal
            from drills.cloud.control import HttpControl
            assert project is not None
            with embedded_rehearsal(project, stack, studies=studies, seed=seed, settings=settings,
                                    say=progress) as rehearsal:
                control = HttpControl(rehearsal.cloud.endpoint)
                ctx = DrillContext(target=rehearsal.cloud.target, outputs=rehearsal.outputs,
                                   clock=VirtualClock(control), control=control, run_id=run_id,
                                   allow_prod=allow_prod, manifest=rehearsal.manifest, stack=stack,
                                   declared=declared, drill_prefix=_drill_prefix(declared),
                                   restore_tier=restore_tier)
                result = _execute(rj, ctx, chosen, progress)
        else:
            outputs = StackOutputs.load(outputs_file)
            resolved = resolve_target(target, endpoint)
            control = None
            clock: Any = WallClock()
            if resolved.simulated:
                from drills.cloud.control import HttpControl
                control = HttpControl(resolved.endpoint)
                clock = VirtualClock(control)
            ctx = DrillContext(target=resolved, outputs=outputs, clock=clock, control=control, run_id=run_id,
                               allow_prod=allow_prod, stack=stack, declared=declared,
                               drill_prefix=_drill_prefix(declared), restore_tier=restore_tier)
            result = _execute(rj, ctx, chosen, progress)
    _summary(result.document, run_dir, console)
    if as_json:
        click.echo(dumps(result.document), nl=False)
    return result.exit_code


def _execute(rj: RunJournal, ctx: DrillContext, chosen: list[Scenario], progress: Any):
    rj.start(ctx.clock, target=target_info(ctx), scope=scope_info(ctx.scope_prefix, ctx.manifest))
    rj.journal.document["stack"]["outputs"] = ctx.outputs.to_dict()
    return execute(rj, ctx, chosen, on_progress=progress)


# ----------------------------------------------------------------------------- safety

def _refuse_disruptive(chosen: list[Scenario]) -> None:
    for scenario in chosen:
        for spec in scenario.method + scenario.rollbacks:
            provider = registry.get(spec.kind, spec.provider)
            if provider is not None and provider.disruptive:
                raise UsageError(f"scenario {scenario.name}: {spec.name} ({spec.provider}) changes production "
                                 "routing or permissions on AWS",
                                 hint="run it against a staging stack, or pass --allow-prod if you mean it")


def _dry_run(chosen: list[Scenario], target: str, outputs_file: Path | None, declared: dict[str, Any],
             allow_prod: bool, as_json: bool) -> None:
    outputs = StackOutputs.load(outputs_file) if outputs_file else _placeholder_outputs()
    ctx = DrillContext(target=resolve_target(target, None if target == "aws" else "http://embedded"),
                       outputs=outputs, clock=WallClock(), run_id="<run-id>", allow_prod=allow_prod, dry_run=True,
                       drill_prefix=_drill_prefix(declared))
    plan = []
    for scenario in chosen:
        steps = []
        for section, specs in (("steady state", scenario.steady_state), ("method", scenario.method),
                               ("rollbacks", scenario.rollbacks)):
            for spec in specs:
                provider = registry.get(spec.kind, spec.provider)
                touches = provider.plan(_PlanRun(ctx), **spec.arguments) if provider and provider.plan else []
                steps.append({"section": section, "name": spec.name, "type": spec.kind, "provider": spec.provider,
                              "writes": bool(provider and provider.writes), "touches": touches})
        plan.append({"scenario": scenario.name, "title": scenario.title, "steps": steps})
    for item in plan:
        say(f"{item['scenario']}: {item['title']}", bold=True)
        for step in item["steps"]:
            mark = "WRITE" if step["writes"] else "read "
            say(f"  [{step['section']}] {mark} {step['name']} ({step['provider']})")
            for touch in step["touches"]:
                say(f"      -> {touch}", dim=True)
    say("dry run: nothing was called that writes; no run dir was written")
    if as_json:
        emit_json({"dryRun": True, "target": target, "plan": plan})


class _PlanRun:
    """What a provider's ``plan`` sees: the context only."""

    def __init__(self, ctx: DrillContext) -> None:
        self.ctx = ctx
        self.state: dict[str, Any] = {}


def _placeholder_outputs() -> StackOutputs:
    names = {n: f"<{n}>" for n in ("archiveBucket", "replicaBucket", "landingBucket", "indexTable", "backupVault",
                                  "drBackupVault", "evidenceBucket", "multiRegionAccessPoint")}
    return StackOutputs(schemaVersion=1, primaryRegion="<primaryRegion>", drRegion="<drRegion>",
                        objectives=Objectives(0, 0, 0), **names)


# ----------------------------------------------------------------------------- stack config

def _project(project_dir: Path | None, *, required: bool) -> Project | None:
    try:
        return find_project(project_dir=project_dir)
    except ProjectError:
        if required:
            raise
        return None


def _declared(project: Project | None, stack: str) -> dict[str, Any]:
    if project is None:
        return {}
    try:
        return project.stack_config(stack)
    except ProjectError:
        return {}


def _drill_prefix(declared: dict[str, Any]) -> str:
    drill = declared.get("drkit:drill") or {}
    return str(drill.get("prefix", "drills/")) if isinstance(drill, dict) else "drills/"


def _declared_summary(declared: dict[str, Any]) -> dict[str, Any]:
    keys = ("drkit:primaryRegion", "drkit:drRegion", "drkit:objectives", "drkit:replication", "drkit:objectLock",
            "drkit:drill")
    return {k.split(":", 1)[1]: declared[k] for k in keys if k in declared}


# ----------------------------------------------------------------------------- summary

def _summary(document: dict[str, Any], run_dir: Path, console: Console) -> None:
    simulated = document["target"]["simulated"] if document.get("target") else False
    label = " (simulated)" if simulated else ""
    table = Table(title=f"drkit run {document['run_id']}: {document['target']['kind'] if document.get('target') else ''}")
    for column in ("scenario", "status", "measured" + label, "objective", "findings"):
        table.add_column(column)
    for scenario in document["scenarios"]:
        rows = scenario.get("measurements") or [None]
        for n, m in enumerate(rows):
            measured = objective = ""
            if m is not None:
                value = "n/a" if m["value"] is None else f"{m['value']:.0f} s" if m["unit"] == "seconds" else str(m["value"])
                measured = f"{m['name']} {value}"
                if m["objective"] is not None:
                    mark = {True: "met", False: "BREACHED", None: "not verified"}[m["met"]]
                    objective = f"<= {m['objective']:.0f} s {mark}"
            table.add_row(scenario["name"] if n == 0 else "", scenario["status"] if n == 0 else "", measured, objective,
                          str(len(scenario.get("findings", []))) if n == 0 else "")
    console.print(table)
    say(f"run dir: {run_dir}  (journal.json, exit {document['exit_code']})")


