"""Ingest many files concurrently into one destination.

Used by ``drkit ingest`` and by every command that brings a data set in (demo, drills).
Presentation stays with the caller: ``on_done`` is called (from this thread, in completion
order) once per input that finished, with its result, or None when it failed.
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
                 on_done: OnDone | None = None) -> None:
    """Ingest ``files`` with a bounded pool into ``summary``; stop submitting new work after an
    infrastructure error (what was not attempted is counted in ``summary.skipped``)."""
    pending: dict[Future, InputFile] = {}
    queue = iter(files)
    broken = False
    with warnings.catch_warnings(), ThreadPoolExecutor(max_workers=workers) as pool:
        # pydicom warns about odd values, quoting them: keep patient data out of the terminal.
        warnings.filterwarnings("ignore", module=r"pydicom(\..*)?$")
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
                result: IngestResult | None = None
                try:
                    result = future.result()
                except UsageError as exc:
                    summary.fail(item.source, "input", str(exc))
                except InfraError as exc:
                    summary.fail(item.source, "infrastructure", str(exc))
                    broken = True
                else:
                    summary.add(result)
                if on_done is not None:
                    on_done(item, result)
    summary.skipped = sum(1 for _ in queue)
