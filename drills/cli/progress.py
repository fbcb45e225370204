"""Progress of a batch ingest on stderr: a rich bar on a terminal, problems named one a line."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from drills.cli.common import say
from drills.ingest.batch import OnDone
from drills.ingest.core import IngestResult, Outcome
from drills.ingest.sources import InputFile

SHOW_PROBLEMS = 20          # quarantined/conflicting inputs named one per line on stderr


@contextmanager
def ingest_progress(total: int) -> Iterator[OnDone]:
    """A callback for ``drills.ingest.batch.ingest_files`` that advances a progress bar (only
    on a terminal) and names the first SHOW_PROBLEMS quarantined or conflicting inputs."""
    console = Console(stderr=True)
    progress = Progress(
        TextColumn("ingest"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=console, transient=True, disable=not console.is_terminal,
    )
    shown = 0

    def on_done(item: InputFile, result: IngestResult | None) -> None:
        nonlocal shown
        progress.advance(task)
        if result is not None and result.outcome in (Outcome.QUARANTINED, Outcome.CONFLICT):
            shown += 1
            if shown <= SHOW_PROBLEMS:
                label = result.reason.value if result.reason else result.outcome.value
                say(f"{result.outcome.value}: {result.source} ({label})", fg="yellow")

    with progress:
        task = progress.add_task("ingest", total=total)
        yield on_done
    if shown > SHOW_PROBLEMS:
        say(f"... and {shown - SHOW_PROBLEMS} more quarantined or conflicting inputs (see --json or --out)",
            fg="yellow")
