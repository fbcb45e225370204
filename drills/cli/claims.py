"""``drkit claims``: the SOP Instance UID claims table.

``drkit claims backfill`` fills the claims of a stack whose claims table is incomplete — a
stack upgraded from a version without one (its claims table starts empty) or an index
restored into new tables — and then writes the table's completeness marker, after which
ingest relies on the claims instead of the index's GSI (drills.ingest.claims,
drills.ingest.claims_backfill). Idempotent and resumable: run it again after an
interruption. Safe beside a running ingest. ``--dry-run`` reads only.

Exit codes: 0 every UID claimed, marker present; 1 conflicts: two index items hold one SOP
Instance UID and the index does not record it (listed with opaque labels; the claims and
the marker are written all the same); 2 bad input (no ``claimsTable`` in the outputs, bad
options); 3 infrastructure.
"""

from __future__ import annotations

from pathlib import Path

import click

from drills.cli.common import deployed_stack, emit_json, json_option, say, target_options
from drills.errors import UsageError


@click.group("claims")
def claims() -> None:
    """The SOP Instance UID claims table (backfill after an upgrade or an index restore)."""


@claims.command("backfill")
@target_options
@click.option("--segments", type=click.IntRange(1, 64), default=4, show_default=True,
              help="Parallel Scan segments of the index.")
@click.option("--region", default=None,
              help="Region of the tables: the stack's primary or DR region (default: the primary region).")
@click.option("--dry-run", is_flag=True, help="Count what would be claimed; write nothing.")
@json_option(help="The summary as JSON on stdout; people read stderr.")
def backfill(stack: str, target: str, endpoint: str | None, outputs_file: Path | None, project_dir: Path | None,
             segments: int, region: str | None, dry_run: bool, as_json: bool) -> None:
    """Claim every archived SOP Instance UID, then mark the claims table complete."""
    from datetime import datetime, timezone

    from drills.ingest.claims_backfill import backfill as run_backfill
    from drills.ingest.clients import ingest_client

    resolved, outputs = deployed_stack("claims backfill", target, endpoint, outputs_file)
    if not outputs.claimsTable:
        raise UsageError("the stack outputs name no claimsTable: this stack has no claims table to fill",
                         hint="deploy the current version first (`drkit up` / `pulumi up`), then write the outputs again")
    if region is not None and region not in (outputs.primaryRegion, outputs.drRegion):
        raise UsageError(f"--region {region!r}: the stack's tables are in {outputs.primaryRegion} (primary) and "
                         f"{outputs.drRegion} (DR) only")
    now = (lambda: datetime.now(timezone.utc))
    if resolved.simulated:
        from drills.cloud.control import HttpControl
        from drills.engine.clock import VirtualClock
        clock = VirtualClock(HttpControl(resolved.endpoint or ""))
        clock.now()                     # an embedded endpoint that does not answer: exit 3 before anything
        now = clock.now
    ddb = ingest_client(resolved, "dynamodb", region or outputs.primaryRegion)
    say(f"claims backfill: index {outputs.indexTable} -> claims {outputs.claimsTable}"
        + (" (dry run: nothing is written)" if dry_run else ""))
    summary = run_backfill(ddb, outputs.indexTable, outputs.claimsTable, now=now, segments=segments, dry_run=dry_run)
    if as_json:
        emit_json({"command": "claims backfill", **summary.to_dict()})
    verb = "would claim" if dry_run else "claimed"
    say(f"{summary.index_items} index item(s): {verb} {summary.claimed}, already claimed {summary.already_claimed}, "
        f"conflicts {summary.conflicts} (+{summary.recorded_conflicts} already recorded in the index); "
        f"marker {summary.marker}; {summary.seconds:.1f} s (real time)")
    for conflict in summary.conflict_list:
        if not conflict["recorded_in_index"]:
            say(f"conflict: one SOP Instance UID held by {conflict['claimed_by']} (claim) and "
                f"{conflict['also_held_by']}", fg="red")
    if summary.conflicts:
        raise click.exceptions.Exit(1)
