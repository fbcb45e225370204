"""``drkit repair``: repair a reconciliation's findings with S3 Batch Operations.

Source: ``--findings FILE`` (what ``drkit verify --json`` printed), or — without it — the
inventory reconciliation itself (the newest S3 Inventory reports of archive and replica,
DuckDB), which names every archive version the replica lacks with no evidence cap.

Per repair kind (``--kind``, repeatable; all by default) and bucket it writes an S3 Batch
Operations CSV manifest (``Bucket,Key,VersionId``, keys URL-encoded) under ``--out`` and
creates the job: ``replicate`` (S3 Batch Replication of missing or FAILED versions),
``restore`` (``S3InitiateRestoreObject``, ``--restore-tier`` BULK|STANDARD, ``--restore-days``),
``checksum`` (``S3ComputeObjectChecksum``, compared with the index). Each job is waited for
(virtual time on the embedded cloud), its completion report read; a table goes to stderr,
``repair.json`` to ``--out`` (and stdout with ``--json``). ``--dry-run`` writes the manifests
and the plan only. Then run ``drkit verify`` again: it is what shows the defects gone.

Safety: on AWS only keys under the stack's drill prefix (``drkit:drill.prefix``) are repaired
unless ``--allow-prod``; the embedded cloud holds rehearsal data only.

Exit codes: 0 every job complete and every task succeeded (or, with ``--dry-run``, planned);
1 a task or job failed, or the findings named fewer versions than they counted;
2 bad input (malformed findings, unknown kind, findings of another stack); 3 infrastructure.
"""

from __future__ import annotations

import tempfile
import uuid
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from drills.actions import repair_plan
from drills.actions.repair import RESTORE_TIERS, Outcome, RepairOptions, execute, region_of
from drills.cli.common import (deployed_stack, drill_prefix_of, emit_json, json_option, memory_size, say,
                               target_options, threads_option)
from drills.engine.clock import Clock, VirtualClock, WallClock
from drills.errors import ProjectError, UsageError
from drills.jsonio import dump_text
from drills.probes.batch_jobs import account_of
from drills.probes.ladder import LadderContext
from drills.probes.observe import Observation

# Measured (docs/BENCHMARKS.md, "`drkit repair` at scale"): 10M versions per side, 1,000,000 to
# repair: 64MB and one thread peak at 194 MiB; 256MB at 456 MiB (one thread) / 490 MiB (two);
# 64MB with two threads runs out of DuckDB memory. Hence one thread and 64MB by default.
REPAIR_MEMORY_LIMIT = "64MB"
REPAIR_THREADS = 1
REPAIR_THREADS_HELP = ("DuckDB threads of the reconciliation source and of comparing each job's report "
                       "(fewer threads, less memory; with two, 64MB ran out of memory at a million versions "
                       "to repair).")


@click.command("repair")
@target_options
@click.option("--findings", "findings_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="JSON from `drkit verify --json` (default: reconcile the newest S3 Inventory reports).")
@click.option("--kind", "kinds", multiple=True, type=click.Choice(repair_plan.KINDS),
              help="Repair kinds to run (repeatable; default all the source can name).")
@click.option("--restore-tier", type=click.Choice(RESTORE_TIERS), default="BULK", show_default=True,
              help="restore: Glacier job tier (Batch Operations accepts BULK and STANDARD).")
@click.option("--restore-days", type=click.IntRange(1, 3650), default=1, show_default=True,
              help="restore: days the restored copy stays readable.")
@click.option("--batch-role-arn", metavar="ARN", default=None,
              help="Role the jobs run as (default: the stack output batchOperationsRoleArn).")
@click.option("--memory-limit", default=REPAIR_MEMORY_LIMIT, show_default=True, callback=memory_size,
              help="DuckDB memory limit: the reconciliation source, and comparing each job's report "
                   "with its versions. Expect a peak of ~200 MB at the defaults (10M versions per side, "
                   "a million to repair); 256MB peaks near 500 MB. Raise it if DuckDB runs out of memory.")
@threads_option(help=REPAIR_THREADS_HELP, default=REPAIR_THREADS)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder for the manifests and repair.json (default ./drkit-repair-<UTC stamp>).")
@json_option(help="repair.json on stdout too; people read stderr.")
@click.option("--allow-prod", is_flag=True, help="On AWS: repair keys outside the stack's drill prefix too.")
@click.option("--dry-run", is_flag=True, help="Write the manifests and the plan; create no job.")
def repair(stack: str, target: str, endpoint: str | None, outputs_file: Path | None, project_dir: Path | None,
           findings_file: Path | None, kinds: tuple[str, ...], restore_tier: str, restore_days: int,
           batch_role_arn: str | None, memory_limit: str, threads: int, out: Path | None, as_json: bool,
           allow_prod: bool, dry_run: bool) -> None:
    """Repair missing/FAILED replicas, cold objects and checksums with S3 Batch Operations jobs."""
    wanted = list(kinds) or list(repair_plan.KINDS)
    document = repair_plan.load_findings(findings_file) if findings_file else None     # malformed: exit 2 first
    if document is None and kinds and set(kinds) - {"replicate"}:
        raise UsageError("without --findings only --kind replicate can be planned (from the inventory "
                         "reconciliation)", hint="pass the JSON `drkit verify --json` printed as --findings")
    if batch_role_arn is not None:
        account_of(batch_role_arn)
    resolved, outputs = deployed_stack("repair", target, endpoint, outputs_file)
    clock: Clock = WallClock()
    if resolved.simulated:
        from drills.cloud.control import HttpControl
        clock = VirtualClock(HttpControl(resolved.endpoint or ""))
    clock.now()                       # an embedded endpoint that does not answer: exit 3 before anything
    obs = Observation(LadderContext(target=resolved, outputs=outputs, clock=clock, stack=stack))
    buckets = {"archive": outputs.archiveBucket, "replica": outputs.replicaBucket}
    with tempfile.TemporaryDirectory(prefix="drkit-repair-") as tmp:
        if document is not None:
            plan = repair_plan.from_findings(document, buckets, wanted, source=f"findings {findings_file}")
        else:
            plan = _from_reconciliation(obs, memory_limit, threads, Path(tmp))
        if target == "aws" and not allow_prod:
            prefix = _drill_prefix(stack, project_dir)
            refused = _count_outside(plan, prefix)
            if refused[0] or plan.incomplete:
                raise UsageError(f"{refused[0] + plan.incomplete} version(s) to repair are outside the drill "
                                 f"prefix {prefix!r} (e.g. {', '.join(refused[1]) or 'unlisted versions'})",
                                 hint="repair production data only with --allow-prod")
        run = f"{clock.now().strftime('%Y%m%dT%H%M%SZ')}-{uuid.uuid4().hex[:6]}"
        folder = out or Path(f"drkit-repair-{run}")
        manifests = plan.write_manifests(folder)
        role = batch_role_arn or outputs.batchOperationsRoleArn
        outcomes: list[Outcome]
        if dry_run:
            outcomes = [Outcome(b, region_of(obs, b.side)) for b in plan.ordered()]
        else:
            if plan.ordered() and not role:
                raise UsageError("no S3 Batch Operations role: the stack outputs name no batchOperationsRoleArn",
                                 hint="re-deploy the stack (it declares the role) or pass --batch-role-arn")
            options = RepairOptions(role or "", restore_tier, restore_days, memory_limit, threads)
            outcomes = execute(plan, obs, options, run, manifests=manifests)
    status = _status(plan, outcomes, dry_run)
    result = {"command": "repair", "target": resolved.kind, "stack": stack, "simulated": bool(clock.simulated),
              "dryRun": dry_run, "source": plan.source, "kinds": wanted, "status": status,
              "unlistedVersions": plan.incomplete, "ignoredFindings": dict(sorted(plan.ignored.items())),
              "repairs": [o.to_json(str(manifests.get((o.batch.kind, o.batch.side), "")) or None) for o in outcomes],
              "next": "drkit verify (same target) shows whether the defects are gone"}
    (folder / "repair.json").write_text(dump_text(result))
    _show(outcomes, plan, status, folder, bool(clock.simulated))
    if as_json:
        emit_json(result)
    if status == "incomplete":
        raise click.exceptions.Exit(1)


def _count_outside(plan: repair_plan.Plan, prefix: str, examples: int = 3) -> tuple[int, list[str]]:
    """How many planned versions are outside ``prefix``, and the first few (streamed)."""
    count, first = 0, []
    for label in repair_plan.outside(plan, prefix):
        count += 1
        if len(first) < examples:
            first.append(label)
    return count, first


def _from_reconciliation(obs: Observation, memory_limit: str, threads: int, work: Path) -> repair_plan.Plan:
    """Every archive version the replica lacks, from the newest inventory reports (no cap):
    DuckDB writes them as the Batch Replication manifest in ``work``; none is held in memory."""
    from drills.probes import reconcile
    from drills.probes.inventory_path import fetch_reports

    with tempfile.TemporaryDirectory(prefix="drkit-repair-", dir=work) as tmp:
        archive, replica = fetch_reports(obs, Path(tmp) / "reports")
        now, cutoff = reconcile.cutoff_of(obs)
        engine = reconcile.open_engine(archive, replica, scope=obs.scope, cutoff=cutoff, now=now,
                                       memory_limit=memory_limit, temp_dir=str(Path(tmp) / "db"), threads=threads)
        try:
            manifest = work / "reconciliation-replicate-archive.csv"
            count = reconcile.export_repair_manifest(engine, obs.outputs.archiveBucket, manifest)
        finally:
            engine.close()
    return repair_plan.from_manifest("replicate", "archive", obs.outputs.archiveBucket, manifest, count,
                                     source="reconciliation (newest S3 Inventory reports)")


def _drill_prefix(stack: str, project_dir: Path | None) -> str:
    from drills.project import find_project

    try:
        return drill_prefix_of(find_project(project_dir=project_dir).stack_config(stack))
    except ProjectError:
        if project_dir is not None:
            raise
        return drill_prefix_of({})


def _status(plan: repair_plan.Plan, outcomes: list[Outcome], dry_run: bool) -> str:
    if dry_run:
        return "planned"
    if plan.incomplete or any(not o.ok for o in outcomes):
        return "incomplete"
    return "complete" if outcomes else "nothing-to-repair"


def _show(outcomes: list[Outcome], plan: repair_plan.Plan, status: str, folder: Path, simulated: bool) -> None:
    table = Table(title=f"drkit repair ({plan.source})" + (" — simulated" if simulated else ""), title_justify="left")
    for column in ("kind", "bucket", "versions", "job", "status", "succeeded", "failed"):
        table.add_column(column, overflow="fold")
    for o in outcomes:
        b, job = o.batch, o.job
        table.add_row(b.kind, f"{b.side} {b.bucket}", f"{b.count}" + (f" (+{b.unlisted} unlisted)"
                                                                       if b.unlisted else ""),
                      job.job_id if job else "-", job.status if job else "not created",
                      str(job.succeeded) if job else "-", str(job.failed) if job else "-")
    console = Console(stderr=True)
    console.print(table)
    for o in outcomes:
        if o.failed_count:
            errors = ", ".join(f"{code} x{n}" for code, n in sorted(o.failed_errors.items()))
            console.print(f"[bold]{o.batch.kind}[/] {o.failed_count} task(s) failed or not reported ({errors})",
                          highlight=False)
        for label in o.failed_labels[:5]:
            console.print(f"[bold]{o.batch.kind}[/] task failed: {label}", highlight=False)
        for label in o.index_mismatches[:5]:
            console.print(f"[bold]checksum[/] computed SHA-256 differs from the index: {label}", highlight=False)
    if plan.incomplete:
        say(f"{plan.incomplete} version(s) were counted but not named in the findings (evidence cap): run "
            "`drkit repair` without --findings to repair every one from the reconciliation", fg="yellow")
    if plan.ignored:
        say("findings no repair kind covers: " + ", ".join(f"{c} x{n}" for c, n in sorted(plan.ignored.items())),
            dim=True)
    say(f"manifests and repair.json in {folder}")
    say(f"repair: {status}", fg={"complete": "green", "planned": "cyan", "nothing-to-repair": "green"}.get(status,
                                                                                                          "red"),
        bold=True)
