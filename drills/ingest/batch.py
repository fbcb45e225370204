"""Ingest many files concurrently into one destination.

Used by ``drkit ingest`` and by every command that brings a data set in (demo, drills).
Presentation stays with the caller: ``on_done`` is called (from this thread, in completion
order) once per input that finished, with its result, or None when it failed.

Each worker thread takes an input up to its upload (``Ingestor.start_file``) and moves on;
its index write joins the index's group commit and the input finishes when that write does
(an ARCHIVED result is always indexed). So index writes are pipelined with the uploads, and
a failed index write is still reported against its own input.
"""

from __future__ import annotations

import warnings
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Callable

from drills.errors import InfraError, UsageError
from drills.ingest.core import IngestResult, Ingestor
from drills.ingest.sources import InputFile
from drills.ingest.summary import IngestSummary

OnDone = Callable[[InputFile, "IngestResult | None"], None]


def ingest_files(ingestor: Ingestor, files: list[InputFile], summary: IngestSummary, workers: int,
                 on_done: OnDone | None = None,
                 on_progress: Callable[[int, int], None] | None = None) -> None:
    """Ingest ``files`` with a bounded pool into ``summary``; stop submitting new work after an
    infrastructure error (what was not attempted is counted in ``summary.skipped``).
    ``on_progress(done, total)`` is called after each finished input."""
    starting: dict[Future, InputFile] = {}      # up to the upload, on a worker thread
    indexing: dict[Future, InputFile] = {}      # uploaded, index write pending
    queue = iter(files)
    broken = False
    finished = 0

    def finish(item: InputFile, outcome: Future) -> None:
        nonlocal broken, finished
        result: IngestResult | None = None
        finished += 1
        try:
            result = outcome.result()
        except UsageError as exc:
            summary.fail(item.source, "input", str(exc))
        except InfraError as exc:
            summary.fail(item.source, "infrastructure", str(exc))
            broken = True
        else:
            summary.add(result)
        if on_done is not None:
            on_done(item, result)
        if on_progress is not None:
            on_progress(finished, len(files))

    with warnings.catch_warnings(), ThreadPoolExecutor(max_workers=workers) as pool:
        # pydicom warns about odd values, quoting them: keep patient data out of the terminal.
        warnings.filterwarnings("ignore", module=r"pydicom(\..*)?$")
        exhausted = False
        while True:
            while not broken and not exhausted and len(starting) < workers * 2:
                item = next(queue, None)
                if item is None:
                    exhausted = True
                    break
                starting[pool.submit(ingestor.start_file, item.path, item.source)] = item
            if not starting and not indexing:
                break
            if not starting:
                ingestor.expedite()     # nothing more will join the index's groups: send them
            done, _ = wait([*starting, *indexing], return_when=FIRST_COMPLETED)
            for future in done:
                if future in indexing:
                    finish(indexing.pop(future), future)
                    continue
                item = starting.pop(future)
                if future.exception() is None and not future.result().done():
                    indexing[future.result()] = item
                else:
                    finish(item, future.result() if future.exception() is None else future)
    summary.skipped = sum(1 for _ in queue)
