"""``drkit weaken [NAME…]``: apply each catalogued weakening to a freshly deployed embedded stack
and require the drill the catalogue names to catch it.

Per weakening: a copy of the project whose stack carries the weakening's config changes (if
any) is deployed offline into a new embedded cloud (with the weakening's simulation settings);
its drift (if any) is applied by boto3 right after deploy, before data is ingested; the synthetic
data set is ingested; then the catching ladder rungs and scenarios run (journal per weakening
under the out dir). **Caught** = the drill exits 1 *and* a finding of the catalogued kind names the weakened resource.
**Prevented** = AWS refused the drift (its error code recorded) *and* the catching rung observed
the resource intact (``Weakening.confirm``). Anything else is a **gap**, reported, never hidden.

Writes ``<out>/weakenings.json`` (schema ``drkit-weakenings/2``: catch rate = caught / applicable,
prevented separately, catalogue size, and the weakening → drill table), the same in the catalogue
journal ``<out>/catalogue/journal.json`` (``drills.weakenings.record``), signs every run dir
(``drkit report verify <out>``) and prints the table. Exit 0 when every weakening tried was caught or
prevented, 1 when there is a gap, 2 bad input.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

import click
import yaml
from rich.console import Console
from rich.table import Table

from drills import jsonio
from drills.cli.common import json_option, say
from drills.cli.rehearsal import embedded_rehearsal
from drills.cli.run import _declared, _drill_prefix
from drills.cloud.control import HttpControl
from drills.cloud.server import SimSettings
from drills.engine.clock import VirtualClock, WallClock
from drills.engine.context import DrillContext
from drills.engine.execute import execute, new_run_id, run_journal, scope_info, target_info
from drills.engine.results import exit_code
from drills.engine.scenario import builtin, parse
from drills.probes.ladder import run_ladder
from drills.project import Project, find_project
from drills.weakenings.catalogue import CATALOGUE, Weakening, chosen
from drills.errors import DrkitError
from drills.weakenings.drift import DRIFTS, DriftRefused
from drills.weakenings.record import sign_runs, write_catalogue_journal

OUT_DIR = Path("out/weakenings")


@click.command("weaken")
@click.argument("names", nargs=-1)
@click.option("--list", "list_only", is_flag=True, help="List the catalogue and the drill that must catch each.")
@click.option("--stack", default="dev", show_default=True, help="The stack the weakenings are applied to.")
@click.option("--project-dir", type=click.Path(file_okay=False, path_type=Path), default=None)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Output dir (default: out/weakenings/<UTC stamp>/).")
@click.option("--studies", type=click.IntRange(1, 100), default=3, show_default=True)
@click.option("--seed", type=int, default=7, show_default=True)
@json_option(help="Print weakenings.json on stdout.")
def weaken(names: tuple[str, ...], list_only: bool, stack: str, project_dir: Path | None, out: Path | None,
           studies: int, seed: int, as_json: bool) -> None:
    """Apply catalogued weakenings to fresh embedded stacks; each must be caught by its drill."""
    selected = chosen(list(names))
    if list_only:
        for w in CATALOGUE:
            say(f"{w.name:32} {w.catcher:28} {w.title}")
        return
    project = find_project(project_dir=project_dir)
    started = WallClock().now()
    run_id = new_run_id(started)
    out_dir = out or OUT_DIR / run_id
    results = [try_weakening(w, project, stack, out_dir / w.name, studies=studies, seed=seed) for w in selected]
    summary = summarise(results)
    out_dir.mkdir(parents=True, exist_ok=True)
    journal = write_catalogue_journal(out_dir, run_id, stack, summary, started)
    try:
        signed = sign_runs(out_dir)
        say(f"signed {len(signed)} run dir(s) (report.json); check them with: drkit report verify {out_dir}")
    except DrkitError as exc:
        say(f"run dirs not signed: {exc}", fg="yellow")
    (out_dir / "weakenings.json").write_text(jsonio.dumps(summary), encoding="utf-8")
    _table(summary)
    rate = "n/a" if summary["catch_rate"] is None else f"{summary['catch_rate']:.0%}"
    say(f"catch rate {summary['caught']}/{summary['applicable']} applicable ({rate}); {summary['prevented']} "
        f"prevented by the stack (not counted as caught); {summary['gaps']} gap(s); catalogue of "
        f"{summary['catalogue_size']}, {summary['tried']} tried; {out_dir}/weakenings.json, {journal}")
    if as_json:
        click.echo(jsonio.dumps(summary), nl=False)
    raise click.exceptions.Exit(0 if summary["gaps"] == 0 else 1)


def try_weakening(w: Weakening, project: Project, stack: str, run_dir: Path, *, studies: int = 3,
                  seed: int = 7) -> dict[str, Any]:
    """Apply ``w`` to a fresh embedded stack, run its drills; the outcome row for the table."""
    with tempfile.TemporaryDirectory(prefix="drkit-weaken-") as tmp:
        variant = _variant(project, stack, w, Path(tmp)) if w.stack else project
        declared = _declared(variant, stack)
        scenarios = [_scenario(name, w.overrides.get(name, {})) for name in w.scenarios]
        drift: dict[str, Any] = {}

        def apply(cloud: Any, outputs: Any) -> None:
            if w.drift:
                try:
                    drift.update(DRIFTS[w.drift](cloud.target, outputs))
                except DriftRefused as exc:
                    drift.update(refused=exc.code, message=exc.message)

        run_id = new_run_id()
        with run_journal(run_id, run_dir) as rj:
            rj.journal.document["stack"] = {"name": stack, "outputs": None, "declared": {}}
            rj.journal.document["weakening"] = {"name": w.name, "title": w.title, "stack": w.stack, "drift": w.drift,
                                                "sim": w.sim, "overrides": w.overrides}
            with embedded_rehearsal(variant, stack, studies=studies, seed=seed,
                                    settings=SimSettings(seed=seed, **w.sim),
                                    **({"after_ingest": apply} if w.after_ingest else {"after_deploy": apply})) as rehearsal:
                control = HttpControl(rehearsal.cloud.endpoint)
                ctx = DrillContext(target=rehearsal.cloud.target, outputs=rehearsal.outputs,
                                   clock=VirtualClock(control), control=control, run_id=run_id,
                                   manifest=rehearsal.manifest, stack=stack, declared=declared,
                                   drill_prefix=_drill_prefix(declared), seed=seed)
                outputs = rehearsal.outputs
                rj.journal.document["weakening"]["applied"] = drift
                rj.start(ctx.clock, target=target_info(ctx), scope=scope_info(ctx.scope_prefix, ctx.manifest))
                rj.journal.document["stack"]["outputs"] = outputs.to_dict()
                if drift:
                    rj.journal.event("weakening-refused" if "refused" in drift else "weakening-applied",
                                     data=dict(drift))
                rungs = run_ladder(ctx, rungs=list(w.rungs)) if w.rungs else []
                rj.journal.document["ladder"] = {"rungs": [r.to_json() for r in rungs]} if rungs else None
                prevention = None
                if "refused" in drift:
                    prevention = confirm_prevented(w, rungs, getattr(outputs, w.resource, None))
                    rj.journal.document["weakening"]["prevention"] = prevention
                    rj.journal.event("weakening-prevention-checked", data=prevention)
                result = execute(rj, ctx, scenarios if "refused" not in drift else [])
    resource = drift.get("resource") if w.resource == "archiveKey" else getattr(outputs, w.resource)
    findings = [f for s in result.document["scenarios"] for f in s.get("findings", [])]
    findings += [f.to_json() for r in rungs for f in r.findings]
    code = exit_code([s["status"] for s in result.document["scenarios"]], ladder=[r.status for r in rungs])
    naming = sorted({f["code"] for f in findings if resource and resource in str(f.get("resource", ""))
                     and (not w.codes or f["code"] in w.codes)})
    reason = None
    if "refused" in drift:
        outcome = "prevented" if prevention and prevention["confirmed"] is not False else "gap"
        if outcome == "gap":
            reason = "AWS refused the drift, but the catching rung did not confirm the resource intact"
    elif code == 1 and naming:
        outcome = "caught"
    else:
        outcome = "gap"
        reason = f"exit {code}; no finding of {', '.join(w.codes) or 'any kind'} names {resource}"
    row = {"weakening": w.name, "title": w.title, "catcher": w.catcher, "outcome": outcome, "exit_code": code,
           "resource": resource, "findings_naming_resource": naming,
           "applied": {k: v for k, v in drift.items() if k != "resource"} or ({"stack": w.stack} if w.stack else {}),
           "journal": str(run_dir / "journal.json"), "reason": reason}
    if prevention is not None:
        row["evidence"] = {"refused": drift["refused"], "message": drift.get("message"), **prevention}
    return row


def confirm_prevented(w: Weakening, rungs: list[Any], resource: str | None) -> dict[str, Any]:
    """A refused drift counts as prevented only when rung 9 observes ``w.confirm`` in force on
    the weakened resource (e.g. the replica's versioning Enabled and Object Lock Enabled)."""
    if not w.confirm:
        return {"confirmed": None, "by": None, "observed": {},
                "note": "no confirming checks catalogued: the refusal's error code is the only evidence"}
    rows = [row for r in rungs if r.rung == 9 for row in (r.counts.get("checks") or [])]
    observed = {row["check"]: row["observed"] for row in rows
                if row.get("resource") == resource and row.get("check") in dict(w.confirm)}
    confirmed = all(observed.get(check) == value for check, value in w.confirm)
    return {"confirmed": confirmed, "by": "ladder rung 9 (configuration-in-force)", "resource": resource,
            "expected": dict(w.confirm), "observed": observed}


def summarise(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Counts, the catch rate (caught / applicable: a prevented weakening is not applicable to
    this stack and is never counted as caught) and the weakening -> catching drill table."""
    caught = sum(r["outcome"] == "caught" for r in results)
    prevented = sum(r["outcome"] == "prevented" for r in results)
    gaps = [r["weakening"] for r in results if r["outcome"] == "gap"]
    applicable = len(results) - prevented
    return {"schema": "drkit-weakenings/2", "catalogue_size": len(CATALOGUE), "tried": len(results),
            "applicable": applicable, "caught": caught, "prevented": prevented, "gaps": len(gaps), "gap_names": gaps,
            "catch_rate": caught / applicable if applicable else None,
            "catch_rate_basis": "caught / applicable (tried minus prevented); prevented is reported separately and "
                                "never counted as caught",
            "table": [{"weakening": r["weakening"], "caught_by": r["catcher"], "outcome": r["outcome"],
                       "findings": r["findings_naming_resource"]} for r in results],
            "catalogue": [dict(asdict(w), catcher=w.catcher) for w in CATALOGUE], "results": results,
            "simulated": True}


def _table(summary: dict[str, Any]) -> None:
    table = Table(title="weakening catalogue (embedded cloud, simulated)")
    for column in ("weakening", "caught by", "outcome", "exit", "finding naming the resource"):
        table.add_column(column)
    for r in summary["results"]:
        table.add_row(r["weakening"], r["catcher"], r["outcome"].upper() if r["outcome"] == "gap" else r["outcome"],
                      str(r["exit_code"]), ", ".join(r["findings_naming_resource"]) or "-")
    Console(stderr=True).print(table)


def _scenario(name: str, overrides: dict[str, dict[str, Any]]) -> Any:
    if not overrides:
        return builtin(name)
    from importlib import resources
    doc = yaml.safe_load((resources.files("drills.scenarios") / f"{name}.yaml").read_text(encoding="utf-8"))
    for section in ("steadyState", "method", "rollbacks"):
        for activity in doc.get(section, []):
            activity.setdefault("arguments", {}).update(overrides.get(activity["name"], {}))
    return parse(yaml.safe_dump(doc), f"{name}.yaml (weakened)", builtin=True)


def _variant(project: Project, stack: str, w: Weakening, root: Path) -> Project:
    """A copy of the project whose stack file carries ``w.stack`` (``drkit:`` keys merged)."""
    (root / "stacks").mkdir(parents=True)
    for item in ("Pulumi.yaml", "__main__.py"):
        shutil.copy(project.root / item, root / item)
    source = project.root / "stacks" / f"Pulumi.{stack}.yaml"
    config = yaml.safe_load(source.read_text(encoding="utf-8"))
    for key, value in w.stack.items():
        merged = config["config"].get(f"drkit:{key}")
        config["config"][f"drkit:{key}"] = {**merged, **value} if isinstance(merged, dict) else value
    (root / "stacks" / f"Pulumi.{stack}.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    return find_project(project_dir=root)
