"""``drkit ingest PATH…``: archive DICOM files, folders and DICOMDIR file sets."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Callable, TextIO

import click

from drills import jsonio
from drills.cli.common import deployed_stack, emit_json, output_options, say, target_options
from drills.cli.progress import ingest_progress
from drills.errors import InfraError, UsageError
from drills.ingest.batch import ingest_files
from drills.ingest.core import IngestDestination, Ingestor
from drills.ingest.paths import printable
from drills.ingest.pseudonym import Pseudonymizer
from drills.ingest.reader import DEFAULT_MAX_INFLATED
from drills.ingest.sources import collect
from drills.ingest.summary import IngestSummary

REPORT_NAME = "ingest-report.json"   # written inside --out when it names a directory
PROGRESS_EVERY = 10.0                # seconds between progress lines when stderr is not a terminal


@click.command("ingest")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@target_options
@output_options
@click.option("--workers", type=click.IntRange(1, 64), default=8, show_default=True,
              help="Files uploaded concurrently.")
@click.option("--exclude", "excludes", multiple=True, metavar="GLOB",
              help="Skip files whose name or path label matches (repeatable), e.g. '*.txt'.")
@click.option("--include-hidden", is_flag=True, help="Also ingest hidden files and walk hidden folders.")
@click.option("--follow-symlinks", is_flag=True,
              help="Walk symlinked folders (loops are detected and reported).")
@click.option("--max-inflated-mib", type=click.IntRange(1, 4096), default=DEFAULT_MAX_INFLATED // 2**20,
              show_default=True,
              help="Largest size a deflated data set may inflate to; beyond it the input is quarantined.")
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
    include_hidden: bool,
    follow_symlinks: bool,
    max_inflated_mib: int,
) -> None:
    """Archive DICOM files, folders (recursive) and DICOMDIR file sets.

    Each instance is validated, written to the archive with a SHA-256 checksum and
    indexed; re-sent identical instances are duplicates, re-sent different ones become
    a new version (conflict); invalid inputs are quarantined with a reason. Every other
    entry met (hidden, symlinked folder, FIFO, broken symlink, drkit's synth manifest…) is
    listed as skipped or refused, with its reason. Needs the stack outputs (--outputs)
    and, on the embedded cloud, its --endpoint.

    Exit codes: 0 every input accounted for (quarantine and conflicts are reported, not
    failures), 2 bad arguments, unreadable or refused inputs, 3 infrastructure errors.
    """
    report_path = _report_path(out)
    check_endpoint(target, endpoint)
    warn_unused_stack("ingest")
    inputs = collect(paths, excludes, include_hidden=include_hidden, follow_symlinks=follow_symlinks)
    resolved, outputs = deployed_stack("ingest", target, endpoint, outputs_file)
    dest = IngestDestination.from_outputs(outputs, resolved)
    ingestor = Ingestor(dest, Pseudonymizer.for_stack(resolved, outputs),
                        max_inflated=max_inflated_mib * 2**20)

    summary = IngestSummary(
        simulated=resolved.simulated,
        destination={"region": dest.region, "archiveBucket": dest.archive_bucket, "indexTable": dest.index_table,
                     "endpoint": resolved.endpoint},
        missing=list(inputs.missing),
        left_out=list(inputs.skipped),
        warnings=list(inputs.warnings),
    )
    for warning in inputs.warnings:
        say(f"warning: {warning}", fg="yellow")
    uploads = ingestor.abort_stale_uploads()
    if uploads.aborted:
        say(f"repair: aborted {uploads.aborted} incomplete multipart upload(s) left by an earlier run", fg="yellow")
    if uploads.in_progress:
        say(f"note: {uploads.in_progress} incomplete multipart upload(s) younger than an hour left alone "
            "(another writer may be at work; a later run aborts them if abandoned)", fg="yellow")
    started = time.monotonic()
    progress_lines = None if sys.stderr.isatty() else ProgressLines(sys.stderr, summary)
    with ingest_progress(len(inputs.files)) as on_done:
        ingest_files(ingestor, inputs.files, summary, workers, on_done=on_done, on_progress=progress_lines)
    summary.elapsed_seconds = time.monotonic() - started
    summary.uploads = uploads.to_dict()
    _report(summary, report_path, as_json)
    _exit(summary)


class ProgressLines:
    """``on_progress`` for pipes and CI: one line on ``stream`` every PROGRESS_EVERY seconds
    (and at the end) instead of a live bar."""

    def __init__(self, stream: TextIO, summary: IngestSummary, every: float = PROGRESS_EVERY,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._stream, self._summary, self._every, self._clock = stream, summary, every, clock
        self._started = clock()
        self._last = self._started

    def __call__(self, done: int, total: int) -> None:
        now = self._clock()
        if done < total and now - self._last < self._every:
            return
        self._last = now
        c = self._summary.counts
        self._stream.write(
            f"ingest: {done}/{total} ({100 * done // max(total, 1)}%) archived {c['archived']}, duplicate "
            f"{c['duplicate']}, conflict {c['conflict']}, quarantined {c['quarantined']}, failed {c['failed']}; "
            f"{now - self._started:.0f} s\n")
        self._stream.flush()


def check_endpoint(target: str, endpoint: str | None) -> None:
    """A given --endpoint must be an http(s) URL (checked before any work)."""
    if endpoint and target == "embedded":
        from drills.cloud.control import resolve_endpoint
        resolve_endpoint(endpoint)


def warn_unused_stack(command: str) -> None:
    """--stack is shared by every command; ingest and the gateway write into the stack that
    --outputs describes, so a --stack given here is not used (and not reported)."""
    ctx = click.get_current_context()
    if ctx.get_parameter_source("stack") == click.core.ParameterSource.COMMANDLINE:
        say(f"warning: drkit {command} ignores --stack: it writes into the stack --outputs describes", fg="yellow")


def _report_path(out: Path | None) -> Path | None:
    """Where the report goes, checked before any work: an unwritable --out is a usage error now,
    not after the whole ingest."""
    if out is None:
        return None
    path = out / REPORT_NAME if out.is_dir() else out
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise UsageError(f"--out {printable(str(out))}: folder {printable(str(folder))} does not exist")
    if path.is_dir() or (path.exists() and not os.access(path, os.W_OK)) or not os.access(folder, os.W_OK):
        raise UsageError(f"--out {printable(str(out))}: cannot write {printable(str(path))}")
    return path


def _exit(summary: IngestSummary) -> None:
    """Non-zero exit codes travel as DrkitErrors, which ``drills.cli.main`` maps to 2 or 3."""
    infra = [f for f in summary.failures if f.kind == "infrastructure"]
    internal = [f for f in summary.failures if f.kind == "internal"]
    if summary.exit_code == 3:
        causes = ([f"{len(infra)} input(s) not stored because the cloud failed"] if infra else []) + \
                 ([f"{len(internal)} failed on an internal error"] if internal else [])
        raise InfraError(", ".join(causes) + (f", {summary.skipped} not attempted" if summary.skipped else "")
                         + f"; first: {(infra or internal)[0].message}")
    if summary.exit_code == 2:
        raise UsageError(f"{len(summary.failures)} input(s) unreadable, {len(summary.refused)} refused, "
                         f"{len(summary.missing)} referenced by a DICOMDIR but missing")


def _report(summary: IngestSummary, out: Path | None, as_json: bool) -> None:
    for failure in summary.failures:
        say(f"failed: {printable(failure.source)}: {printable(failure.message)}", fg="red")
    for entry in summary.refused:
        say(f"refused: {printable(entry.source)}: {entry.reason}", fg="red")
    for label in summary.missing:
        say(f"missing: {printable(label)} is referenced by a DICOMDIR but not on disk", fg="red")
    for line in summary.lines():
        say(line)
    if out is not None:
        try:
            out.write_text(jsonio.dump_text(summary.to_dict(full=True)))
        except OSError as exc:
            raise UsageError(f"{out}: cannot write the ingest report ({exc.strerror})") from exc
        say(f"report: {out}")
    if as_json:
        emit_json(summary.to_dict())
