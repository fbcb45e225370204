"""``drkit ingest PATH…``: archive DICOM files, folders and DICOMDIR file sets."""

from __future__ import annotations

import json
import time
import warnings
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from drills.cli.common import emit_json, output_options, resolve_target, say, target_options
from drills.contracts import StackOutputs
from drills.errors import InfraError, UsageError
from drills.ingest.core import IngestDestination, Ingestor, Outcome
from drills.ingest.pseudonym import Pseudonymizer
from drills.ingest.sources import InputFile, collect
from drills.ingest.summary import IngestSummary

REPORT_NAME = "ingest-report.json"   # written inside --out when it names a directory
SHOW_PROBLEMS = 20          # quarantined/conflicting inputs named one per line on stderr


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
    resolved = resolve_target(target, endpoint)
    if target == "embedded" and not resolved.simulated:
        raise UsageError(
            "drkit ingest on the embedded cloud needs --endpoint URL from `drkit cloud serve` "
            "and --outputs FILE from `drkit up`",
            hint="or use --target aws with --outputs from `pulumi stack output --json`",
        )
    if outputs_file is None:
        raise UsageError(
            "drkit ingest needs --outputs FILE: the stack outputs from `drkit up` "
            "(embedded) or `pulumi stack output --json` (AWS)",
        )
    outputs = StackOutputs.load(outputs_file)
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
    _run(ingestor, inputs.files, summary, workers)
    summary.elapsed_seconds = time.monotonic() - started
    _report(summary, out, as_json)
    _exit(summary)


def _run(ingestor: Ingestor, files: list[InputFile], summary: IngestSummary, workers: int) -> None:
    """Ingest with a bounded pool; stop submitting new work after an infrastructure error."""
    console = Console(stderr=True)
    progress = Progress(
        TextColumn("ingest"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=console, transient=True, disable=not console.is_terminal,
    )
    pending: dict[Future, InputFile] = {}
    queue = iter(files)
    broken = False
    shown = 0
    with warnings.catch_warnings(), progress, ThreadPoolExecutor(max_workers=workers) as pool:
        # pydicom warns about odd values, quoting them: keep patient data out of the terminal.
        warnings.filterwarnings("ignore", module=r"pydicom(\..*)?$")
        task = progress.add_task("ingest", total=len(files))
        while True:
            while not broken and len(pending) < workers * 2:
                item = next(queue, None)
                if item is None:
                    break
                pending[pool.submit(ingestor.ingest_file, item.path, item.source)] = item
            if not pending:
                break
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                item = pending.pop(future)
                progress.advance(task)
                try:
                    result = future.result()
                except UsageError as exc:
                    summary.fail(item.source, "input", str(exc))
                except InfraError as exc:
                    summary.fail(item.source, "infrastructure", str(exc))
                    broken = True
                else:
                    summary.add(result)
                    if result.outcome in (Outcome.QUARANTINED, Outcome.CONFLICT):
                        shown += 1
                        if shown <= SHOW_PROBLEMS:
                            label = result.reason.value if result.reason else result.outcome.value
                            say(f"{result.outcome.value}: {result.source} ({label})", fg="yellow")
    if shown > SHOW_PROBLEMS:
        say(f"... and {shown - SHOW_PROBLEMS} more quarantined or conflicting inputs (see --json or --out)",
            fg="yellow")
    summary.skipped = sum(1 for _ in queue)


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
            out.write_text(json.dumps(summary.to_dict(full=True), indent=2, sort_keys=True) + "\n")
        except OSError as exc:
            raise UsageError(f"{out}: cannot write the ingest report ({exc.strerror})") from exc
        say(f"report: {out}")
    if as_json:
        emit_json(summary.to_dict())
