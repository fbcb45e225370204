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

import queue
import warnings
from concurrent.futures import Future, ThreadPoolExecutor
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
    # every future reports its completion into one queue: waiting on hundreds of pending
    # futures at every step (concurrent.futures.wait) would cost CPU per instance
    events: queue.SimpleQueue = queue.SimpleQueue()
    starting = indexing = 0     # inputs up to their upload / uploaded with the index write pending
    inputs = iter(files)
    broken = False
    finished = 0

    def track(future: Future, item: InputFile, stage: str) -> None:
        future.add_done_callback(lambda done: events.put((stage, done, item)))

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
            while not broken and not exhausted and starting < workers * 2:
                item = next(inputs, None)
                if item is None:
                    exhausted = True
                    break
                track(pool.submit(ingestor.start_file, item.path, item.source), item, "start")
                starting += 1
            if not starting and not indexing:
                break
            if not starting:
                ingestor.expedite()     # nothing more will join the index's groups: send them
            stage, future, item = events.get()
            if stage == "index":
                indexing -= 1
                finish(item, future)
                continue
            starting -= 1
            if future.exception() is None:
                indexing += 1
                track(future.result(), item, "index")
            else:
                finish(item, future)
    summary.skipped = sum(1 for _ in inputs)
