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

Verification: the ladder (``drkit verify``'s nine rungs) runs before the scenarios, after them
and once more as the final verification; the journal records each pass, the configuration in
force (rung 9) and every rung finding. A rung that failed or could not verify makes the run
deviate (exit 1). The journal's ``plan`` is ``drkit plan``'s summary of the stack (or why it
is not included). ``actor`` on each activity is who ran it (the caller's ARN on AWS).

Reports: at the end the run dir's journal is rendered into report.json, report.html and
report.pdf (PDF/A-3) and signed (``drills.reports``); the paths are printed. When WeasyPrint's
system libraries are missing, the PDF is not rendered: the journal records why (event
``reports-not-rendered``), report.json and report.html are still rendered and signed, and
the exit code is 3 unless the drills already deviated (1 says more about the archive than 3).
A run that broke (exit 3) still gets its reports, which say the run is incomplete.
Reports are rendered after the embedded cloud stopped: from then on the journal's times are its
virtual clock's last reading, held (``RunJournal.hold_clock``) — an unusable signing key (e.g. a
folder whose ``signing-key.pub`` is someone else's) is a ``reports-not-rendered`` event and exit 2
(unless the drills deviated), never a crash on the stopped cloud.

Exit codes: 0 every objective met, 1 a drill deviated / objective breached / not verified,
2 invalid input, 3 infrastructure or tool error, 130 interrupted (journal still written).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from drills.cli.common import drill_prefix_of, emit_json, json_option, resolve_target, say, target_options
from drills.contracts import Objectives, StackOutputs
from drills.engine import registry
from drills.engine.clock import VirtualClock, WallClock
from drills.engine.context import DrillContext
from drills.engine.execute import (RunJournal, caller_identity, execute, new_run_id, run_journal, scope_info,
                                   target_info)
from drills.engine.journal import JOURNAL_FILE, dumps
from drills.engine.model import EXIT_INFRA
from drills.engine.scenario import Scenario, resolve
from drills.engine.verification import LadderSettings
from drills.errors import DrkitError, InfraError, ProjectError, UsageError
from drills.project import Project, find_project

RUNS_DIR = Path("out/runs")


@click.command("run")
@click.argument("scenarios", nargs=-1)
@target_options
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Run directory (default: out/runs/<UTC stamp>/).")
@json_option(help="Print the journal on stdout; human text goes to stderr.")
@click.option("--allow-prod", is_flag=True, help="Allow drills that change production routing or permissions on AWS.")
@click.option("--dry-run", is_flag=True, help="Print the plan (actions and what they touch); call nothing that writes.")
@click.option("--studies", type=click.IntRange(1, 400), default=16, show_default=True,
              help="Synthetic studies ingested on the embedded cloud.")
@click.option("--seed", type=int, default=7, show_default=True,
              help="Seed of the data set, the simulation and the drills' own writes.")
@click.option("--restore-tier", type=click.Choice(["Expedited", "Standard", "Bulk"]), default=None,
              help="Glacier restore tier for the backup-restore drill's cold studies (default: the document's).")
@click.option("--sample", type=click.IntRange(min=0), default=3, show_default=True,
              help="Instances per specialty the verification ladder downloads and re-parses (rung 6).")
def run(scenarios: tuple[str, ...], stack: str, target: str, endpoint: str | None, outputs_file: Path | None,
        project_dir: Path | None, out: Path | None, as_json: bool, allow_prod: bool, dry_run: bool,
        studies: int, seed: int, sample: int, restore_tier: str | None) -> None:
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
                      studies=studies, seed=seed, sample=sample, restore_tier=restore_tier)
    raise click.exceptions.Exit(code)


def run_drills(chosen: list[Scenario], run_id: str, run_dir: Path, project: Project | None, stack: str, *,
               target: str = "embedded", endpoint: str | None = None, outputs_file: Path | None = None,
               declared: dict[str, Any] | None = None, allow_prod: bool = False, as_json: bool = False,
               studies: int = 16, seed: int = 7, settings: Any = None, sample: int = 3,
               reports: bool = True, restore_tier: str | None = None) -> int:
    """Run ``chosen`` and write ``run_dir``; returns the exit code. With no ``outputs_file``:
    an embedded rehearsal of ``stack`` (``settings``: the simulation's ``SimSettings``).
    ``reports``: render and sign report.json/html/pdf at the end."""
    declared = declared if declared is not None else _declared(project, stack)
    console = Console(stderr=True)
    progress = lambda text: console.print(f"[dim]{text}[/dim]", highlight=False)   # noqa: E731
    plan = _plan(project, stack)
    try:
        with run_journal(run_id, run_dir) as rj:
            rj.journal.document["stack"] = {"name": stack, "outputs": None, "declared": _declared_summary(declared)}
            rj.journal.document["plan"] = plan
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
                                       declared=declared or None, drill_prefix=_drill_prefix(declared),
                                       restore_tier=restore_tier, seed=seed)
                    try:
                        result = _execute(rj, ctx, chosen, progress, LadderSettings(sample=sample, seed=seed))
                    finally:            # the cloud stops with this block: what the journal records
                        rj.hold_clock()  # after it (reports, errors) keeps its last virtual reading
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
                                   allow_prod=allow_prod, stack=stack, declared=declared or None,
                                   drill_prefix=_drill_prefix(declared), restore_tier=restore_tier, seed=seed)
                result = _execute(rj, ctx, chosen, progress, LadderSettings(sample=sample))
    except DrkitError as exc:
        if reports and exc.exit_code == EXIT_INFRA and (run_dir / JOURNAL_FILE).is_file():
            _, paths = _render_reports(run_dir, rj, EXIT_INFRA)      # the report of a broken run says so
            _say_reports(paths)
        raise
    code, paths = _render_reports(run_dir, rj, result.exit_code) if reports else (result.exit_code, [])
    document = rj.journal.to_document()
    _summary(document, run_dir, console)
    if as_json:
        click.echo(dumps(document), nl=False)
    _say_reports(paths)
    if reports and not paths:
        say(f"the run dir is NOT signed (reports not rendered, reason above): `drkit report verify` will say "
            f"not verified; fix the key and sign it with `drkit report {run_dir} --key FILE`", fg="red")
    return code


def _execute(rj: RunJournal, ctx: DrillContext, chosen: list[Scenario], progress: Any, ladder: LadderSettings):
    rj.start(ctx.clock, target=target_info(ctx), scope=scope_info(ctx.scope_prefix, ctx.manifest))
    rj.journal.document["stack"]["outputs"] = ctx.outputs.to_dict()
    ctx.actor = caller_identity(ctx)
    return execute(rj, ctx, chosen, on_progress=progress, ladder=ladder)


# ----------------------------------------------------------------------------- plan and reports

def _plan(project: Project | None, stack: str) -> dict[str, Any]:
    """``drkit plan``'s summary of the stack for the journal, or why it is not included."""
    if project is None:
        return {"not_included": "no Pulumi project here: the plan needs the stack's declared tiers "
                                "(run from the project or pass --project-dir)"}
    from drills.plan import summary
    try:
        return summary(stack, project)
    except DrkitError as exc:
        return {"not_included": f"the plan of stack {stack} could not be computed: {exc.message}"}


def _render_reports(run_dir: Path, rj: RunJournal, code: int) -> tuple[int, list[Path]]:
    """Render and sign the run dir's reports: the exit code after it and the paths written.

    What could not be rendered is recorded in the journal (event ``reports-not-rendered``,
    ``exit_code`` updated) before what can be is rendered and signed."""
    from drills.cli import heap
    from drills.reports import build_run_reports
    try:
        with heap.long_lived():          # the run's heap (moto's backends, the program) is done growing
            return code, build_run_reports(run_dir)
    except InfraError as exc:            # WeasyPrint's system libraries missing: no PDF
        code = code or EXIT_INFRA
        _not_rendered(run_dir, rj, ["pdf"], exc, code)
    except DrkitError as exc:            # e.g. an unusable signing key: nothing signed
        code = code or exc.exit_code
        _not_rendered(run_dir, rj, ["json", "html", "pdf"], exc, code)
        return code, []
    try:
        return code, build_run_reports(run_dir, formats=("json", "html"))
    except DrkitError as exc:
        code = code or exc.exit_code
        _not_rendered(run_dir, rj, ["json", "html"], exc, code)
        return code, []


def _not_rendered(run_dir: Path, rj: RunJournal, formats: list[str], exc: DrkitError, code: int) -> None:
    names = ", ".join(f"report.{f}" for f in formats)
    say(f"{names} not rendered: {exc}", fg="yellow" if code == EXIT_INFRA else "red")
    rj.journal.event("reports-not-rendered", data={"formats": formats, "reason": exc.message, "exit_code": code})
    rj.journal.document["exit_code"] = code
    rj.journal.write(run_dir)


def _say_reports(paths: list[Path]) -> None:
    """The report paths, last: what ``make demo`` ends with."""
    for name in ("report.html", "report.pdf"):
        for path in paths:
            if path.name == name:
                say(f"report: {path}", bold=True)


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
    return drill_prefix_of(declared)


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
    for key, label in (("steady_state_before", "ladder before the drills"),
                       ("steady_state_after", "ladder after the drills"), ("ladder", "final verification")):
        rungs = (document.get(key) or {}).get("rungs") or []
        if rungs:
            passed = sum(r["status"] == "passed" for r in rungs)
            others = ", ".join(f"rung {r['rung']} {r['name']} {r['status']}" for r in rungs if r["status"] != "passed")
            say(f"{label}: {passed}/{len(rungs)} rungs passed" + (f" ({others})" if others else ""),
                fg="green" if passed == len(rungs) else "red")
    say(f"run dir: {run_dir}  (journal.json, exit {document['exit_code']})")


