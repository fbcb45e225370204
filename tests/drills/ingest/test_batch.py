"""drills.ingest.batch: concurrent ingest into a summary; presentation is the caller's callback."""

from __future__ import annotations

import threading
from concurrent.futures import Future
from pathlib import Path

import pytest

from drills.errors import InfraError, UsageError
from drills.ingest.batch import ingest_files
from drills.ingest.core import IngestResult, Outcome
from drills.ingest.sources import InputFile
from drills.ingest.summary import IngestSummary


class FakeIngestor:
    """Answers per file name: ok-* archived, bad-* unreadable (UsageError), down-* cloud failure
    before the upload; with ``deferred`` the index stage of every uploaded input completes
    later, from another thread (noindex-* failing there, as a failed index write does)."""

    def __init__(self, deferred: bool = False) -> None:
        self.calls: list[str] = []
        self.expedited = 0
        self.deferred = deferred
        self.index_stage: list[tuple[str, Future]] = []
        self._lock = threading.Lock()

    def start_file(self, path: Path, source: str) -> Future:
        with self._lock:
            self.calls.append(source)
        if source.startswith("bad"):
            raise UsageError(f"{source}: cannot read")
        if source.startswith("down"):
            raise InfraError("the cloud is down")
        future: Future = Future()
        if not self.deferred:
            future.set_result(IngestResult(Outcome.ARCHIVED, source, size=1, header_bytes_read=1))
        else:
            with self._lock:
                self.index_stage.append((source, future))
        return future

    def expedite(self) -> None:
        with self._lock:
            self.expedited += 1
            stage, self.index_stage = self.index_stage, []
        for source, future in reversed(stage):      # out of order, as groups finish
            if source.startswith("noindex"):
                future.set_exception(InfraError(f"{source}: archived as k (version v) but its index item was not "
                                                "written: ThrottlingException"))
            else:
                future.set_result(IngestResult(Outcome.ARCHIVED, source, size=1, header_bytes_read=1))


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


def test_a_later_index_failure_is_reported_against_its_own_input(tmp_path: Path) -> None:
    """The uploads return before their index writes; the one whose index write fails is
    the one reported failed (infrastructure), the others archived."""
    names = ["ok-1", "ok-2", "noindex-3", "ok-4"]
    files = [InputFile(tmp_path / n, n) for n in names]
    summary = IngestSummary(simulated=True)
    seen: dict[str, Outcome | None] = {}
    fake = FakeIngestor(deferred=True)
    ingest_files(fake, files, summary, workers=4,
                 on_done=lambda item, result: seen.__setitem__(item.source, result.outcome if result else None))
    assert seen == {"ok-1": Outcome.ARCHIVED, "ok-2": Outcome.ARCHIVED, "noindex-3": None, "ok-4": Outcome.ARCHIVED}
    (failure,) = summary.failures
    assert failure.source == "noindex-3" and failure.kind == "infrastructure" and "index item" in failure.message
    assert summary.exit_code == 3 and fake.expedited >= 1


@pytest.mark.parametrize("claims", [False, True])
def test_pipelined_index_writes_against_moto_report_a_later_failure_on_its_instance(ingest_env, tmp_path: Path,
                                                                                  monkeypatch, claims) -> None:
    """The real Ingestor: uploads return before their index writes, which go out in groups;
    the group write that fails (the second BatchWriteItem, or with a claims table the second
    TransactWriteItems) fails exactly its instances, named
    with their archived key and version; every other instance is archived and indexed, and
    nothing is reported ARCHIVED without its index item."""
    from botocore.exceptions import ClientError

    from drills.contracts import INDEX_SORT_KEY
    from drills.ingest import index as index_module

    from .conftest import build_dataset, to_bytes

    monkeypatch.setattr(index_module, "LINGER", 60.0)          # groups form only when full, or at the end
    group = index_module.CLAIMED_GROUP if claims else index_module.BATCH_WRITE_LIMIT
    datasets = [build_dataset() for _ in range(3 * group)]
    files = []
    for n, ds in enumerate(datasets):
        path = tmp_path / f"{n:03}.dcm"
        path.write_bytes(to_bytes(ds))
        files.append(InputFile(path, path.name))
    ingestor = ingest_env.ingestor(claims=claims)
    ddb = ingestor._index._ddb
    operation = "transact_write_items" if claims else "batch_write_item"
    real = getattr(ddb, operation)
    lock = threading.Lock()
    calls: list[list[str]] = []

    def sort_keys(kwargs) -> list[str]:
        if claims:
            puts = [a["Put"] for a in kwargs["TransactItems"]]
            return [p["Item"][INDEX_SORT_KEY]["S"] for p in puts if p["TableName"] == ingest_env.index_table]
        (requests,) = kwargs["RequestItems"].values()
        return [r["PutRequest"]["Item"][INDEX_SORT_KEY]["S"] for r in requests]

    def write(**kwargs):
        with lock:
            calls.append(sort_keys(kwargs))
            second = len(calls) == 2
        if second:
            raise ClientError({"Error": {"Code": "InternalServerError", "Message": "no"}}, "BatchWriteItem")
        return real(**kwargs)

    monkeypatch.setattr(ddb, operation, write)
    summary = IngestSummary(simulated=True)
    ingest_files(ingestor, files, summary, workers=4)
    failed_sort_keys = set(calls[1])
    assert len(calls) >= 3 and failed_sort_keys
    by_source = {ds_path.source: ds for ds_path, ds in zip(files, datasets)}
    failed = {f.source for f in summary.failures}
    for failure in summary.failures:
        ds = by_source[failure.source]
        assert failure.kind == "infrastructure"
        assert f"archived as dicom/{ds.StudyInstanceUID}/{ds.SeriesInstanceUID}/{ds.SOPInstanceUID}" in failure.message
        assert "index item was not written" in failure.message and "InternalServerError" in failure.message
    archived = {r.source for r in summary.results}
    assert all(r.outcome is Outcome.ARCHIVED for r in summary.results)
    # after the failure no new input is started: those are counted as skipped, not stored
    assert len(archived) + len(failed) + summary.skipped == len(files) and summary.exit_code == 3
    for source, ds in by_source.items():
        sort_key = f"{ds.SeriesInstanceUID}/{ds.SOPInstanceUID}"
        item = ingest_env.index_item(ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID)
        assert (source in failed) == (sort_key in failed_sort_keys), source
        assert (item is not None) == (source in archived), source
        if source in failed:         # archived but not indexed: the bytes are kept
            assert ingest_env.versions(f"dicom/{ds.StudyInstanceUID}/{ds.SeriesInstanceUID}/{ds.SOPInstanceUID}.dcm")


def test_an_unexpected_error_is_an_internal_failure_of_its_input_not_a_crash(tmp_path: Path) -> None:
    """A bug (any other exception) fails its own input as "internal" (exit 3, no traceback),
    stops new work like an infrastructure error, and every input is still accounted for."""

    class Buggy(FakeIngestor):
        def start_file(self, path: Path, source: str) -> Future:
            if source.startswith("bug"):
                raise TypeError("unexpected")
            return super().start_file(path, source)

    files = [InputFile(tmp_path / "bug-1", "bug-1")] + [InputFile(tmp_path / f"ok-{n}", f"ok-{n}") for n in range(20)]
    summary = IngestSummary(simulated=True)
    ingest_files(Buggy(), files, summary, workers=1)
    (failure,) = summary.failures
    assert failure.source == "bug-1" and failure.kind == "internal" and "TypeError" in failure.message
    assert summary.exit_code == 3 and summary.skipped > 0
    assert len(summary.results) + len(summary.failures) + summary.skipped == len(files)
