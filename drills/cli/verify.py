"""``drkit verify``: the verification ladder alone (steady state, no faults) — the daily check.

Targets:
- ``--endpoint URL --outputs F``: a running embedded cloud (``drkit cloud serve`` + ``drkit up``);
- ``--target aws --outputs F``: real AWS (outputs from ``pulumi stack output --json``);
- neither: an embedded cloud started in-process, the stack deployed offline, the synthetic
  enterprise data set ingested and replicated on the virtual clock, then verified.

Rung 9 compares the deployed configuration with ``stacks/Pulumi.<stack>.yaml`` (found from the
working directory or ``--project-dir``); without a project it is *not verified*.

Paths (``--path``, README "drkit verify"): ``listing`` (ListObjectVersions + HEADs),
``inventory`` (the newest S3 Inventory reports reconciled by DuckDB under ``--memory-limit``),
``athena`` (the same statements run by Athena; AWS only), ``auto`` (inventory when the
archive's newest inventory report holds about ``AUTO_INVENTORY_ROWS`` rows or more, else
listing). ``--archive-manifest``/``--replica-manifest`` reconcile two reports on disk, no cloud.

Rung 5 (``--checksums``): on the listing path a HEAD per version reads S3's stored SHA-256; on
the inventory and Athena paths (or ``--checksums batch``) an S3 Batch Operations compute-checksum
job per region hashes the stored bytes (no restore, no download) and its completion report is
compared with the index (``drills/probes/batch_checksums.py``).

Human table on stderr; ``--json`` prints the rung results on stdout. Exit codes: 0 every rung
passed; 1 a rung failed or was not verified; 2 bad input; 3 infrastructure or tool error.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import click

from drills.cli.common import (THREADS_HELP, deployed_stack, emit_json, json_option, memory_size, say, target_options,
                               threads_option)
from drills.engine.clock import Clock, VirtualClock, WallClock
from drills.engine.model import RungResult, Status
from drills.errors import DrkitError, ProjectError, UsageError
from drills.probes.batch_checksums import BatchSettings
from drills.probes.batch_jobs import account_of
from drills.probes.integrity import DEFAULT_SAMPLE
from drills.probes.reconcile import DEFAULT_MEMORY_LIMIT
from drills.probes.ladder import RUNGS, LadderContext, Rung, exit_code, overall, run_ladder, select

PATHS = ("auto", "listing", "inventory", "athena")
AUTO_INVENTORY_ROWS = 1_000_000      # about where listing + 2 HEADs per version stops fitting a drill window

DEFAULT_STUDIES = 16
_STYLE = {Status.PASSED: "green", Status.FAILED: "red", Status.NOT_VERIFIED: "yellow", Status.ERROR: "magenta",
          Status.SKIPPED: "dim"}


@click.command("verify")
@target_options
@json_option(help="Rung results as JSON on stdout; people read stderr.")
@click.option("--sample", type=click.IntRange(min=0), default=DEFAULT_SAMPLE, show_default=True,
              help="Instances per specialty downloaded, hashed and re-parsed (rung 6).")
@click.option("--seed", type=int, default=None,
              help="Which sample rung 6 draws (default: from the date, so each day checks others).")
@click.option("--rung", "rungs", multiple=True, metavar="N|NAME",
              help="Run only these rungs (repeatable): " + ", ".join(f"{r.number} {r.name}" for r in RUNGS))
@click.option("--studies", type=click.IntRange(1, 400), default=DEFAULT_STUDIES, show_default=True,
              help="Embedded default only: synthetic studies to ingest before verifying.")
@click.option("--path", "path", type=click.Choice(PATHS), default="auto", show_default=True,
              help="listing (ListObjectVersions + HEAD), inventory (S3 Inventory + DuckDB), athena (AWS), "
                   "auto (by archive size).")
@click.option("--memory-limit", default=DEFAULT_MEMORY_LIMIT, show_default=True, callback=memory_size,
              help="DuckDB memory limit of the inventory reconciliation and of rung 5's checksum comparison "
                   "(joins beyond it spill to a temporary directory).")
@threads_option(help="Inventory path: " + THREADS_HELP)
@click.option("--athena-output", metavar="S3URL", default=None,
              help="Athena path: s3:// location for query results.")
@click.option("--athena-workgroup", default="primary", show_default=True, help="Athena path: workgroup.")
@click.option("--archive-manifest", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Reconcile a report on disk (its manifest.json; data files beside it) with --replica-manifest.")
@click.option("--replica-manifest", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="The replica's report on disk (with --archive-manifest).")
@click.option("--checksums", type=click.Choice(("auto", "heads", "batch")), default="auto", show_default=True,
              help="Rung 5: heads (HEAD each version for its stored SHA-256), batch (an S3 Batch Operations "
                   "compute-checksum job per region, compared with the index), auto (heads on the listing "
                   "path, batch on inventory and athena).")
@click.option("--batch-role-arn", metavar="ARN", default=None,
              help="Rung 5 with --checksums batch: the role the jobs run as (default: the stack output "
                   "batchOperationsRoleArn).")
@click.option("--checksum-sample", type=click.IntRange(min=1), default=None,
              help="Rung 5 with --checksums batch: only N current versions (drawn with --seed), not all.")
@click.option("--threshold-minutes", type=click.FloatRange(min=0), default=15.0, show_default=True,
              help="Reports on disk: replication threshold (versions younger than it may be in flight).")
def verify(stack: str, target: str, endpoint: str | None, outputs_file: Path | None, project_dir: Path | None,
           as_json: bool, sample: int, seed: int | None, rungs: tuple[str, ...], studies: int, path: str,
           memory_limit: str, threads: int, athena_output: str | None, athena_workgroup: str, archive_manifest: Path | None,
           replica_manifest: Path | None, checksums: str, batch_role_arn: str | None, checksum_sample: int | None,
           threshold_minutes: float) -> None:
    """Run the verification ladder against a deployed stack (or a fresh embedded one)."""
    wanted = select([int(r) if r.isdigit() else r for r in rungs] or None)      # bad --rung: exit 2 first
    names = [r.number for r in wanted]
    if batch_role_arn is not None:
        account_of(batch_role_arn)                                              # not a role ARN: exit 2
    run = _Runner(path, sample, seed, memory_limit, threads, athena_output, athena_workgroup,
                  checksums=checksums, batch=BatchSettings(batch_role_arn, checksum_sample, seed,
                                                               memory_limit=memory_limit))
    if archive_manifest or replica_manifest:
        _local(archive_manifest, replica_manifest, names, path, memory_limit, threads, threshold_minutes, as_json)
        return
    if path == "athena" and target != "aws":
        raise UsageError("--path athena runs on AWS (--target aws): the embedded cloud has no Athena "
                         "(moto's returns canned results)", hint="use --path inventory: the same statements in DuckDB")
    if path == "athena" and not athena_output:
        raise UsageError("--path athena needs --athena-output s3://BUCKET/PREFIX/ for query results")
    if target == "embedded" and not endpoint and outputs_file is None:
        with _embedded_default(stack, project_dir, studies, inventory=path == "inventory") as ctx:
            results = run(ctx, names)
    else:
        resolved, outputs = deployed_stack("verify", target, endpoint, outputs_file)
        clock: Clock = WallClock()
        if resolved.simulated:
            from drills.cloud.control import HttpControl
            clock = VirtualClock(HttpControl(resolved.endpoint or ""))
        clock.now()                     # an embedded endpoint that does not answer: exit 3 before any rung
        ctx = LadderContext(target=resolved, outputs=outputs, clock=clock, stack=stack,
                            declared=_declared(stack, project_dir))
        results = run(ctx, names)
    document = {"command": "verify", "target": ctx.target.kind, "stack": stack, "path": run.chosen,
                "simulated": bool(ctx.clock.simulated), "status": overall(results).value,
                "rungs": [r.to_json() for r in results]}
    _show(results, ctx)
    if as_json:
        emit_json(document)
    code = exit_code(results)
    if code:
        raise click.exceptions.Exit(code)


def _progress(rung: Rung, result: RungResult) -> None:
    say(f"  rung {rung.number} {rung.name}: {result.status.value}", fg=_STYLE[result.status])


class _Runner:
    """Runs the ladder on the chosen path (``chosen`` says which, after ``auto``)."""

    def __init__(self, path: str, sample: int, seed: int | None, memory_limit: str, threads: int,
                 athena_output: str | None, athena_workgroup: str, checksums: str = "auto",
                 batch: BatchSettings | None = None) -> None:
        self.path, self.sample, self.seed, self.threads = path, sample, seed, threads
        self.memory_limit, self.athena_output, self.athena_workgroup = memory_limit, athena_output, athena_workgroup
        self.checksums, self.batch = checksums, batch or BatchSettings()
        self.chosen = path

    def __call__(self, ctx: LadderContext, rungs: list[int]) -> list[RungResult]:
        from drills.probes.inventory_path import run_inventory_ladder

        self.chosen = self.path if self.path != "auto" else _auto_path(ctx)
        say(f"verifying stack {ctx.stack or '?'} on {ctx.target.kind} ({self.chosen} path): "
            f"{ctx.outputs.archiveBucket} ({ctx.outputs.primaryRegion}) -> {ctx.outputs.replicaBucket} "
            f"({ctx.outputs.drRegion}), scope {ctx.scope_prefix}")
        checksums = self.checksums if self.checksums != "auto" else ("heads" if self.chosen == "listing" else "batch")
        if self.chosen == "listing":
            return run_ladder(ctx, rungs=rungs, sample=self.sample, seed=self.seed, progress=_progress,
                              checksums=checksums, batch=self.batch)
        factory = None
        if self.chosen == "athena":
            from drills.probes.athena_path import open_athena

            output, workgroup = self.athena_output or "", self.athena_workgroup

            def factory(obs: Any) -> Any:
                return open_athena(obs, output, workgroup=workgroup)
        return run_inventory_ladder(ctx, rungs=rungs, memory_limit=self.memory_limit, threads=self.threads,
                                    progress=_progress, engine_factory=factory, checksums=checksums,
                                    batch=self.batch)


def _auto_path(ctx: LadderContext) -> str:
    """inventory when the archive's newest inventory report is large, else listing."""
    from drills.probes.inventory_report import estimated_rows
    from drills.probes.observe import Observation, Unobservable

    try:
        rows = estimated_rows(Observation(ctx))
    except (Unobservable, DrkitError) as exc:
        say(f"auto path: listing (no usable inventory report: {exc})", fg="yellow")
        return "listing"
    chosen = "inventory" if rows >= AUTO_INVENTORY_ROWS else "listing"
    say(f"auto path: {chosen} (newest inventory report holds about {rows:,} rows)")
    return chosen


def _local(archive: Path | None, replica: Path | None, rungs: list[int], path: str, memory_limit: str,
           threads: int, threshold_minutes: float, as_json: bool) -> None:
    """Reconcile two reports on disk (no cloud): rungs 1-4 and 8."""
    from drills.probes import reconcile
    from drills.probes.inventory_report import load_local

    if archive is None or replica is None:
        raise UsageError("give both --archive-manifest and --replica-manifest")
    if path not in ("auto", "inventory"):
        raise UsageError(f"reports on disk are reconciled on the inventory path, not --path {path}")
    answerable = tuple(n for n in rungs if n in reconcile.ANSWERS)
    if not answerable:
        raise UsageError("reports on disk answer rungs 1, 2, 3, 4 and 8 only")
    try:
        pair = load_local(archive), load_local(replica)
    except (ValueError, KeyError, OSError) as exc:
        raise UsageError(f"cannot read the reports: {exc}") from exc
    facts = reconcile.Facts(now=WallClock().now(), threshold_minutes=threshold_minutes,
                            threshold_source="--threshold-minutes")
    say(f"reconciling inventory reports on disk: {pair[0].source_bucket} -> {pair[1].source_bucket} "
        f"(DuckDB, memory limit {memory_limit})")
    results = reconcile.reconcile_reports(*pair, facts, rungs=answerable, memory_limit=memory_limit, threads=threads)
    for rung, result in zip(select(list(answerable)), results):
        _progress(rung, result)
    _show(results, None)
    if as_json:
        emit_json({"command": "verify", "target": "inventory-reports", "path": "inventory",
                   "status": overall(results).value, "rungs": [r.to_json() for r in results]})
    code = exit_code(results)
    if code:
        raise click.exceptions.Exit(code)


def _declared(stack: str, project_dir: Path | None) -> dict[str, Any] | None:
    from drills.project import find_project

    try:
        project = find_project(project_dir=project_dir)
    except ProjectError:
        if project_dir is not None:
            raise
        say("no Pulumi project here: rung 9 (configuration in force) cannot compare with the declared config",
            fg="yellow")
        return None
    return project.stack_config(stack)


@contextmanager
def _embedded_default(stack: str, project_dir: Path | None, studies: int,
                      inventory: bool = False) -> Iterator[LadderContext]:
    """``drkit run``'s embedded rehearsal (cloud in-process, ``stack`` deployed offline, the
    synthetic data set ingested, replication settled on the virtual clock); yield the ladder
    context over it, with the engine's virtual clock."""
    from components.config import from_mapping
    from drills.cli.rehearsal import embedded_rehearsal
    from drills.cloud.control import HttpControl
    from drills.project import find_project

    project = find_project(project_dir=project_dir)
    declared = project.stack_config(stack)            # unknown stack / broken YAML: exit 2 before starting
    from_mapping(declared)                            # invalid config: exit 2 naming the key
    say(f"no target given: embedded cloud in this process, stack {stack} deployed offline (every figure is "
        "simulated)", bold=True)
    with embedded_rehearsal(project, stack, studies=studies, say=lambda text: say(text, dim=True)) as rehearsal:
        if inventory:
            from drills.cloud.clock import SIMULATED
            reports = HttpControl(rehearsal.cloud.endpoint).call("inventory", "generate", {})["reports"]
            say(f"{len(reports)} S3 Inventory report(s) written now ({SIMULATED} time)")
        yield LadderContext(target=rehearsal.cloud.target, outputs=rehearsal.outputs,
                            clock=VirtualClock(HttpControl(rehearsal.cloud.endpoint)), stack=stack,
                            declared=declared)


# --------------------------------------------------------------------------- human output

def _summary(result: RungResult) -> str:
    c = result.counts
    if not c:
        return ""
    name = result.name
    if name == "inventory-parity":
        a, r = c["archive"], c["replica"]
        return (f"{r['instances']}/{a['instances']} instances, {r['bytes']:,}/{a['bytes']:,} bytes, "
                f"{r['noncurrentVersions']}/{a['noncurrentVersions']} noncurrent, "
                f"{r['deleteMarkers']}/{a['deleteMarkers']} delete markers (replica/archive); "
                + (f"{a['listRequests'] + r['listRequests']} list requests" if "listRequests" in a
                   else f"{a.get('inventoryRows', 0) + r.get('inventoryRows', 0):,} inventory rows"))
    if name == "replication-state":
        states = ", ".join(f"{k} {v}" for k, v in c["statuses"].items()) or "no versions"
        return f"{states}; threshold {c['thresholdMinutes']:g} min"
    if name == "dicom-hierarchy":
        a, r = c["archive"], c["replica"]
        return (f"{r['studies']}/{a['studies']} studies, {r['series']}/{a['series']} series, "
                f"{r['instances']}/{a['instances']} instances; {c['studiesDiffering']} differing")
    if name == "sop-instance-set":
        return f"{c['missingInReplica']} missing, {c['extraInReplica']} extra in the replica"
    if name == "stored-checksums":
        if c.get("method") == "s3-batch-compute-checksum":
            unverified = sum(n["count"] for n in c["notVerified"].values())
            return (f"{c['matched']}/{c['versions']} versions computed by {len(c['jobs'])} Batch job(s) match the "
                    f"index; {c['archiveMismatch']} archive, {c['replicaMismatch']} replica mismatch(es), "
                    f"{unverified} not verified")
        return (f"{c['matched']}/{c['indexItems']} match on both sides; {c['archiveMismatch']} archive, "
                f"{c['replicaMismatch']} replica mismatch(es), {c['checksumAbsent']} without checksum")
    if name == "sample-bytes":
        return (f"{c.get('verified', 0)}/{c.get('downloads', 0)} downloads verified "
                f"({sum(c.get('sampled', {}).values())} instances, seed {c.get('seed')})")
    if name == "index-parity":
        p, d = c["primary"], c["dr"]
        return (f"primary {p['items']} items/{p['instances']} instances, DR {d['items']}/{d['instances']}; "
                f"orphans {p['orphanItems'] + d['orphanItems']}, unindexed "
                f"{p['unindexedInstances'] + d['unindexedInstances']}")
    if name == "immutability-parity":
        return (f"{c['compared']} versions compared, {c['legalHolds']} legal holds; "
                f"{c['replicaWeaker']} weaker, {c['replicaDiffering']} differing")
    if name == "configuration-in-force":
        return f"{c['checked']} settings checked, {c['drift']} drifted"
    return ""


def _show(results: list[RungResult], ctx: LadderContext | None) -> None:
    from rich.console import Console
    from rich.table import Table

    if ctx is None:
        title = "drkit verify: inventory reports on disk"
    else:
        label = " (simulated)" if ctx.clock.simulated else ""
        title = f"drkit verify: stack {ctx.stack or '?'} on {ctx.target.kind}{label}"
    table = Table(title=title, title_justify="left")
    for column in ("rung", "check", "status", "counts", "findings"):
        table.add_column(column, overflow="fold")
    for r in results:
        table.add_row(str(r.rung), r.name, f"[{_STYLE[r.status]}]{r.status.value}[/]", _summary(r) or r.reason,
                      str(len([f for f in r.findings if f.severity.value != "info"])))
    console = Console(stderr=True)
    console.print(table)
    for r in results:
        for f in r.findings:
            console.print(f"[bold]rung {r.rung}[/] {f.severity.value} {f.code}: {f.message} "
                          f"[dim](resource: {f.resource})[/]", highlight=False)
        if r.reason and r.status is not Status.PASSED:
            console.print(f"[bold]rung {r.rung}[/] {r.status.value}: {r.reason}", highlight=False)
    say(f"verdict: {overall(results).value}", fg=_STYLE[overall(results)], bold=True)
