"""``drkit ingest PATH…``: archive DICOM files, folders and DICOMDIR file sets."""

from __future__ import annotations

import time
from pathlib import Path

import click

from drills import jsonio
from drills.cli.common import deployed_stack, emit_json, output_options, say, target_options
from drills.cli.progress import ingest_progress
from drills.errors import InfraError, UsageError
from drills.ingest.batch import ingest_files
from drills.ingest.core import IngestDestination, Ingestor
from drills.ingest.pseudonym import Pseudonymizer
from drills.ingest.sources import collect
from drills.ingest.summary import IngestSummary

REPORT_NAME = "ingest-report.json"   # written inside --out when it names a directory


@click.command("ingest")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@target_options
@output_options
@click.option("--workers", type=click.IntRange(1, 64), default=8, show_default=True,
              help="Files uploaded concurrently.")
@click.option("--exclude", "excludes", multiple=True, metavar="GLOB",
              help="Skip files whose name or path label matches (repeatable), e.g. 'manifest.json'.")
def ingest(
    paths: tuple[Path, ...],
    stack: str,
    target: str,
    endpoint: str | None,
    outputs_file: Path | None,
    project_dir: Path | None,
    out: Path | None,
    as_json: bool,
    workers: int,
    excludes: tuple[str, ...],
) -> None:
    """Archive DICOM files, folders (recursive) and DICOMDIR file sets.

    Each instance is validated, written to the archive with a SHA-256 checksum and
    indexed; re-sent identical instances are duplicates, re-sent different ones become
    a new version (conflict); invalid inputs are quarantined with a reason. Needs the
    stack outputs (--outputs) and, on the embedded cloud, its --endpoint.

    Exit codes: 0 every input accounted for (quarantine and conflicts are reported, not
    failures), 2 bad arguments or unreadable inputs, 3 infrastructure errors.
    """
    inputs = collect(paths, excludes)
    resolved, outputs = deployed_stack("ingest", target, endpoint, outputs_file)
    dest = IngestDestination.from_outputs(outputs, resolved)
    ingestor = Ingestor(dest, Pseudonymizer.from_secret(resolved, dest.region))

    summary = IngestSummary(
        simulated=resolved.simulated,
        destination={"region": dest.region, "archiveBucket": dest.archive_bucket, "indexTable": dest.index_table,
                     "stack": stack, "endpoint": resolved.endpoint},
        missing=list(inputs.missing),
        excluded=inputs.excluded,
    )
    for warning in inputs.warnings:
        say(f"warning: {warning}", fg="yellow")
    started = time.monotonic()
    with ingest_progress(len(inputs.files)) as on_done:
        ingest_files(ingestor, inputs.files, summary, workers, on_done=on_done)
    summary.elapsed_seconds = time.monotonic() - started
    _report(summary, out, as_json)
    _exit(summary)


def _exit(summary: IngestSummary) -> None:
    """Non-zero exit codes travel as DrkitErrors, which ``drills.cli.main`` maps to 2 or 3."""
    infra = [f for f in summary.failures if f.kind == "infrastructure"]
    if summary.exit_code == 3:
        raise InfraError(f"{len(infra)} input(s) not stored because the cloud failed"
                         + (f", {summary.skipped} not attempted" if summary.skipped else "")
                         + f"; first: {infra[0].message}")
    if summary.exit_code == 2:
        raise UsageError(f"{len(summary.failures)} input(s) unreadable, "
                         f"{len(summary.missing)} referenced by a DICOMDIR but missing")


def _report(summary: IngestSummary, out: Path | None, as_json: bool) -> None:
    for failure in summary.failures:
        say(f"failed: {failure.source}: {failure.message}", fg="red")
    for label in summary.missing:
        say(f"missing: {label} is referenced by a DICOMDIR but not on disk", fg="red")
    for line in summary.lines():
        say(line)
    if out is not None:
        if out.is_dir():
            out = out / REPORT_NAME
        try:
            out.write_text(jsonio.dump_text(summary.to_dict(full=True)))
        except OSError as exc:
            raise UsageError(f"{out}: cannot write the ingest report ({exc.strerror})") from exc
        say(f"report: {out}")
    if as_json:
        emit_json(summary.to_dict())
