"""drills.ingest.batch: concurrent ingest into a summary; presentation is the caller's callback."""

from __future__ import annotations

import threading
from pathlib import Path

from drills.errors import InfraError, UsageError
from drills.ingest.batch import ingest_files
from drills.ingest.core import IngestResult, Outcome
from drills.ingest.sources import InputFile
from drills.ingest.summary import IngestSummary


class FakeIngestor:
    """Answers per file name: ok-* archived, bad-* unreadable (UsageError), down-* cloud failure."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self._lock = threading.Lock()

    def ingest_file(self, path: Path, source: str) -> IngestResult:
        with self._lock:
            self.calls.append(source)
        if source.startswith("bad"):
            raise UsageError(f"{source}: cannot read")
        if source.startswith("down"):
            raise InfraError("the cloud is down")
        return IngestResult(Outcome.ARCHIVED, source, size=1, header_bytes_read=1)


def test_every_input_reaches_the_summary_and_the_callback(tmp_path: Path) -> None:
    files = [InputFile(tmp_path / n, n) for n in ("ok-1", "bad-1", "ok-2")]
    summary = IngestSummary(simulated=True)
    seen: list[tuple[str, Outcome | None]] = []
    ingest_files(FakeIngestor(), files, summary, workers=2,
                 on_done=lambda item, result: seen.append((item.source, result.outcome if result else None)))
    assert sorted(seen, key=str) == sorted([("ok-1", Outcome.ARCHIVED), ("ok-2", Outcome.ARCHIVED), ("bad-1", None)],
                                           key=str)
    assert summary.counts["archived"] == 2 and summary.counts["failed"] == 1 and summary.exit_code == 2


def test_an_infrastructure_error_stops_new_work(tmp_path: Path) -> None:
    files = [InputFile(tmp_path / "down-1", "down-1")] + [InputFile(tmp_path / f"ok-{n}", f"ok-{n}") for n in range(20)]
    summary = IngestSummary(simulated=True)
    ingest_files(FakeIngestor(), files, summary, workers=1)      # no callback: nothing is shown
    assert summary.exit_code == 3
    assert summary.skipped > 0 and len(summary.results) + len(summary.failures) + summary.skipped == len(files)
