"""``drkit up``: deploy a stack offline into the embedded cloud (moto + simulation).

The project's real Pulumi program runs with mocks as its engine; each resource is created
in the embedded cloud through boto3 and the identifiers it assigned become the outputs.
``pulumi up`` does not run. With ``--endpoint`` (or $DRKIT_ENDPOINT) the deploy goes into a
running ``drkit cloud serve``; a second ``up`` of the same stack there reuses what the first
made (no drift). Without one, an in-process cloud is started and stops when the command
exits: its outputs then only describe what was deployed.

Outputs are written to ``--outputs`` (default ``outputs.<stack>.json`` in the working
directory), in the shape ``pulumi stack output --json`` gives on AWS. Exit codes: 0 deployed;
2 unknown stack, invalid stack YAML or config, unsupported region, ``--target aws``;
3 the endpoint does not answer or the embedded cloud refused a resource.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.console import Console
from rich.table import Table

from drills.cli.common import emit_json, json_option, say, target_options
from drills.errors import InfraError, UsageError

if TYPE_CHECKING:
    from drills.aws import Target
    from drills.contracts import StackOutputs
    from drills.deploy.engine import DeployResult


@click.command("up")
@target_options
@json_option(help="The deploy result as JSON on stdout; people read stderr.")
@click.option("--verbose", "-v", is_flag=True, help="List every created resource, not a summary per type.")
def up(stack: str, target: str, endpoint: str | None, outputs_file: Path | None, project_dir: Path | None,
       as_json: bool, verbose: bool) -> None:
    """Deploy STACK offline into the embedded cloud and write its outputs."""
    from drills.cloud.control import ENDPOINT_ENV, resolve_endpoint
    from drills.deploy.engine import DISCLAIMER, deploy
    from drills.project import find_project

    if target == "aws":
        raise UsageError("drkit up deploys offline into the embedded cloud only",
                         hint="deploy to AWS with `pulumi up`, then `pulumi stack output --json > outputs.json`")
    source = click.get_current_context().get_parameter_source("endpoint")
    if endpoint and source == click.core.ParameterSource.ENVIRONMENT:
        say(f"using the embedded cloud at {endpoint} (${ENDPOINT_ENV})")
    project = find_project(project_dir=project_dir)
    project.stack_config(stack)                         # unknown stack / broken YAML before any cloud starts
    out_path = _writable_outputs(outputs_file or Path(f"outputs.{stack}.json"))
    endpoint = resolve_endpoint(endpoint) if endpoint else None
    if endpoint:
        from drills.aws import Target
        target_used = Target(endpoint=endpoint)
        result = deploy(project, stack, target_used)
        result.outputs.write(out_path)
        claims = _upgrade_claims(target_used, result.outputs, out_path)
    else:
        from drills.cloud.server import EmbeddedCloud
        with EmbeddedCloud() as cloud:
            result = deploy(project, stack, cloud.target, cloud.sim)
            result.outputs.write(out_path)
            claims = _upgrade_claims(cloud.target, result.outputs, out_path)
    if as_json:
        emit_json({**result.to_dict(), "outputsFile": str(out_path),
                   **({"claimsBackfill": claims} if claims is not None else {})})
    _show(result, verbose)
    say(f"{DISCLAIMER}; took {result.duration_seconds:.1f} s (real time)", fg="green")
    say(f"outputs written to {out_path}")
    if not endpoint:
        say("note: this in-process embedded cloud stopped when the command ended; to use the outputs, start "
            "`drkit cloud serve` and run `drkit up --endpoint URL`", fg="yellow")


def _upgrade_claims(target: "Target", outputs: "StackOutputs", outputs_file: Path | None = None) -> dict | None:
    """An upgraded stack — its index holds items, its claims table lacks the completeness
    marker — gets its claims filled now (`drkit claims backfill`); the summary, or None when
    there was nothing to do. Conflicts found are reported, the deploy still succeeded. A
    failure is an InfraError (exit 3) that says the deploy itself succeeded and how to finish."""
    try:
        return _backfill_if_upgraded(target, outputs)
    except InfraError as exc:
        where = f" --outputs {outputs_file}" if outputs_file else " --outputs FILE"
        raise InfraError(f"the stack is deployed and its outputs written, but its SOP Instance UID claims could not "
                         f"be filled: {exc.message}",
                         hint=f"once the cause is fixed, run `drkit claims backfill --endpoint {target.endpoint}{where}`; "
                              "until then ingest checks UIDs through the index's GSI (correct, slower)") from exc


def _backfill_if_upgraded(target: "Target", outputs: "StackOutputs") -> dict | None:
    from drills.cloud.control import HttpControl
    from drills.engine.clock import VirtualClock
    from drills.ingest.claims import marker_present, table_empty
    from drills.ingest.claims_backfill import backfill
    from drills.ingest.clients import ingest_client

    if not outputs.claimsTable:
        return None
    ddb = ingest_client(target, "dynamodb", outputs.primaryRegion)
    if marker_present(ddb, outputs.claimsTable) or table_empty(ddb, outputs.indexTable):
        return None
    say("the index holds items and the claims table has no completeness marker (a stack upgraded from a version "
        "without claims, or a restored index): running `drkit claims backfill`", fg="yellow")
    now = VirtualClock(HttpControl(target.endpoint or "")).now
    summary = backfill(ddb, outputs.indexTable, outputs.claimsTable, now=now)
    say(f"claims backfill: {summary.index_items} index item(s), {summary.claimed} claimed, "
        f"{summary.already_claimed} already claimed, marker {summary.marker}")
    if summary.conflicts:
        say(f"claims backfill: {summary.conflicts} SOP Instance UID(s) held by two index items and not recorded in "
            f"the index; `drkit claims backfill --json` lists them (opaque labels)", fg="red")
    return summary.to_dict()


def _writable_outputs(path: Path) -> Path:
    """``--outputs`` checked before anything is deployed: its folder exists and is writable."""
    import os

    folder = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise UsageError(f"--outputs {path}: is a folder; name the outputs file, e.g. {path / 'outputs.json'}")
    if not folder.is_dir():
        raise UsageError(f"--outputs {path}: folder {folder} does not exist")
    if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise UsageError(f"--outputs {path}: cannot write there")
    return path


def _show(result: "DeployResult", verbose: bool) -> None:
    console = Console(stderr=True)
    created = Table(title=f"stack {result.stack}: in the embedded cloud at {result.endpoint}", title_justify="left")
    if verbose:
        for col in ("type", "name", "physical id", "region", "state"):
            created.add_column(col)
        for r in result.created:
            created.add_row(r.type, r.name, r.physical_id, r.region, "reused" if r.reused else "created")
    else:
        created.add_column("type")
        created.add_column("created", justify="right")
        created.add_column("reused", justify="right")
        counts = Counter((r.type, r.reused) for r in result.created)
        for rtype in sorted({r.type for r in result.created}):
            created.add_row(rtype, str(counts[(rtype, False)]), str(counts[(rtype, True)]))
    console.print(created)
    if result.declared_only:
        console.print("declared only (the embedded cloud cannot hold these; each is listed with why):",
                      style="bold", highlight=False)
        by_reason: dict[str, list[str]] = {}
        for d in result.declared_only:
            by_reason.setdefault(d.reason, []).append(f"{d.type} {d.name}")
        for reason, resources in by_reason.items():
            console.print(f"  {reason}:", highlight=False)
            for resource in resources:
                console.print(f"    - {resource}", highlight=False)
    for note in result.notes:
        console.print(f"note: {note}", style="yellow", highlight=False)
    fresh = sum(1 for r in result.created if not r.reused)
    console.print(f"{fresh} created, {len(result.reused)} reused, {len(result.declared_only)} declared only",
                  highlight=False)
