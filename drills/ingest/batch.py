"""Ingest many files concurrently into one destination, with a progress bar on stderr.

Used by ``drkit ingest`` and by every command that brings a data set in (demo, drills).
"""

from __future__ import annotations

import warnings
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Callable

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from drills.cli.common import say
from drills.errors import InfraError, UsageError
from drills.ingest.core import Ingestor, Outcome
from drills.ingest.paths import printable
from drills.ingest.sources import InputFile
from drills.ingest.summary import IngestSummary

SHOW_PROBLEMS = 20          # quarantined/conflicting inputs named one per line on stderr


def ingest_files(ingestor: Ingestor, files: list[InputFile], summary: IngestSummary, workers: int,
                 on_progress: Callable[[int, int], None] | None = None) -> None:
    """Ingest ``files`` with a bounded pool into ``summary``; stop submitting new work after an
    infrastructure error (what was not attempted is counted in ``summary.skipped``).
    ``on_progress(done, total)`` is called after each input (the live bar shows only on a terminal)."""
    console = Console(stderr=True)
    progress = Progress(
        TextColumn("ingest"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=console, transient=True, disable=not console.is_terminal,
    )
    pending: dict[Future, InputFile] = {}
    queue = iter(files)
    broken = False
    shown = 0
    finished = 0
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
                finished += 1
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
                            say(f"{result.outcome.value}: {printable(result.source)} ({label})", fg="yellow")
                if on_progress is not None:
                    on_progress(finished, len(files))
    if shown > SHOW_PROBLEMS:
        say(f"... and {shown - SHOW_PROBLEMS} more quarantined or conflicting inputs (see --json or --out)",
            fg="yellow")
    summary.skipped = sum(1 for _ in queue)


