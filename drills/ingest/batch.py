"""Ingest many files concurrently into one destination.

Used by ``drkit ingest`` and by every command that brings a data set in (demo, drills).
Presentation stays with the caller: ``on_done`` is called (from this thread, in completion
order) once per input that finished, with its result, or None when it failed.

``workers`` threads each take the next input and carry it up to its upload
(``Ingestor.start_file``), then take the next; its index write joins the index's group
commit and the input finishes when that write does (an ARCHIVED result is always
indexed). So index writes are pipelined with the uploads, and a failed index write is
still reported against its own input. Each input sends this thread one event, when it
finishes: no task objects or hand-offs per upload (they cost client CPU per instance,
docs/BENCHMARKS.md "Ingest at scale").
"""

from __future__ import annotations

import logging
import queue
import threading
from concurrent.futures import Future
from typing import Callable, Iterator

from drills.errors import InfraError, UsageError
from drills.ingest.core import IngestResult, Ingestor
from drills.ingest.sources import InputFile
from drills.ingest.summary import IngestSummary

log = logging.getLogger(__name__)
OnDone = Callable[[InputFile, "IngestResult | None"], None]


class _Inputs:
    """The inputs not yet taken, shared by the workers; ``stop`` ends the taking."""

    def __init__(self, files: list[InputFile], workers: int) -> None:
        self._files: Iterator[InputFile] = iter(files)
        self._lock = threading.Lock()
        self.taken = 0
        self.stopped = False
        self.working = workers

    def take(self) -> InputFile | None:
        with self._lock:
            item = None if self.stopped else next(self._files, None)
            if item is not None:
                self.taken += 1
            return item

    def stop(self) -> None:
        with self._lock:
            self.stopped = True

    def left(self) -> int:
        with self._lock:
            return sum(1 for _ in self._files)

    def retire(self) -> bool:
        """A worker found nothing more to take: True for the last one."""
        with self._lock:
            self.working -= 1
            return self.working == 0


def ingest_files(ingestor: Ingestor, files: list[InputFile], summary: IngestSummary, workers: int,
                 on_done: OnDone | None = None,
                 on_progress: Callable[[int, int], None] | None = None) -> None:
    """Ingest ``files`` with ``workers`` threads into ``summary``; stop taking new inputs
    after an infrastructure error (what was not attempted is counted in ``summary.skipped``).
    ``on_progress(done, total)`` is called after each finished input."""
    if workers < 1:
        raise UsageError(f"workers must be at least 1 (got {workers})")
    events: queue.SimpleQueue = queue.SimpleQueue()     # (input, its index-stage Future or exception)
    inputs = _Inputs(files, min(workers, max(1, len(files))))
    retired = object()

    def work() -> None:
        try:
            while (item := inputs.take()) is not None:
                try:
                    indexed = ingestor.start_file(item.path, item.source)
                except BaseException as exc:  # noqa: BLE001 - handed to the calling thread, raised there
                    if not isinstance(exc, UsageError):
                        inputs.stop()
                    events.put((item, exc))
                    continue
                indexed.add_done_callback(lambda done, item=item: events.put((item, done)))
        finally:
            if inputs.retire():
                ingestor.expedite()     # nothing more will join the index's groups: send them
            events.put((retired, None))

    def finish(item: InputFile, outcome: Future | BaseException) -> None:
        result: IngestResult | None = None
        try:
            if isinstance(outcome, BaseException):
                raise outcome
            result = outcome.result()
        except UsageError as exc:
            summary.fail(item.source, "input", str(exc))
        except InfraError as exc:
            summary.fail(item.source, "infrastructure", str(exc))
            inputs.stop()
        except Exception as exc:  # noqa: BLE001 - a bug: this input failed, the run stops taking new ones
            log.debug("ingest of one input failed", exc_info=True)
            summary.fail(item.source, "internal", f"internal error ({type(exc).__name__}); the input may not be "
                                                  "archived: ingest it again")
            inputs.stop()
        else:
            summary.add(result)
        if on_done is not None:
            on_done(item, result)
        if on_progress is not None:
            on_progress(finished, len(files))

    finished = 0
    running = inputs.working
    threads = [threading.Thread(target=work, name=f"drkit-ingest-{n}", daemon=True) for n in range(running)]
    for thread in threads:
        thread.start()
    try:
        while running or finished < inputs.taken:
            item, outcome = events.get()
            if item is retired:
                running -= 1
                continue
            finished += 1
            finish(item, outcome)
    finally:
        inputs.stop()
        for thread in threads:
            thread.join()
    summary.skipped = inputs.left()
