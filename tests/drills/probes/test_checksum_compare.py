"""Rung 5's bounded-memory comparison (drills/probes/checksum_compare.py): the wanted versions,
the study index and the compute-checksum completion reports stream to files and DuckDB
compares them under a memory limit; Python sees counts and the first labels only.

The report rows follow the S3 Batch Operations completion report
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/batch-ops-job-status.html#batch-ops-completion-report:
Bucket, Key, VersionId, TaskStatus, ErrorCode, HTTPStatusCode, ResultMessage) with the
compute-checksum result message of
https://docs.aws.amazon.com/AmazonS3/latest/userguide/batch-ops-compute-checksums.html.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import tracemalloc
from pathlib import Path
from typing import Iterator

import pytest

from drills.probes.batch_jobs import TaskResult
from drills.probes.checksum_compare import ChecksumTables, IndexSink, write_report, write_versions
from drills.probes.observe import IndexItem
from drills.probes.rung import EVIDENCE_CAP

N = 200_000
BUCKET = "archive"


def key(n: int) -> str:
    return f"dicom/1.2.{n // 1000}/1.3.{n // 10}/1.4.{n}.dcm"


def digest(n: int, salt: str = "") -> str:
    return base64.b64encode(hashlib.sha256(f"{n}{salt}".encode()).digest()).decode()


def label(n: int) -> str:
    return f"{key(n)}@v{n}"


# Planted defects, by instance number.
ARCHIVE_BAD = set(range(1000, 1030))             # the archive's bytes differ from the index
REPLICA_BAD = set(range(5000, 5007))             # the replica's bytes differ from the index
NO_CHECKSUM = {7000, 7001}                       # the index item has no ChecksumSHA256
UNINDEXED = set(range(9000, 9010))               # not in the index; 9000 and 9001: copies differ
FAILED = {11000: "AccessDenied", 11001: ""}      # the replica task failed (with, without a code)
MISSING = {12000}                                # no replica report row at all
ENCODED = 13000                                  # the archive report echoes the key URL-encoded


def versions() -> Iterator[tuple[str, str]]:
    return ((key(n), f"v{n}") for n in range(N))


def index_pages(page: int = 1000) -> Iterator[list[IndexItem]]:
    for start in range(0, N, page):
        yield [IndexItem(study="s", series_sop="x", key=key(n), version_id=f"v{n}",
                         checksum_sha256="" if n in NO_CHECKSUM else digest(n), size=1, specialty="RAD")
               for n in range(start, min(N, start + page)) if n not in UNINDEXED]


def report(side: str) -> Iterator[TaskResult]:
    for n in range(N):
        if side == "replica" and n in MISSING:
            continue
        written = key(n).replace("/", "%2F") if side == "archive" and n == ENCODED else key(n)
        if side == "replica" and n in FAILED:
            yield TaskResult(BUCKET, written, f"v{n}", "failed", FAILED[n], "403", "")
            continue
        bad = (side == "archive" and n in ARCHIVE_BAD) or (side == "replica" and (n in REPLICA_BAD or n in (9000, 9001)))
        message = {"checksum_base64": digest(n, "x" if bad else ""), "checksumAlgorithm": "SHA256",
                   "checksumType": "FULL_OBJECT"}
        yield TaskResult(BUCKET, written, f"v{n}", "succeeded", "", "200", json.dumps(message))


@pytest.mark.slow
def test_two_hundred_thousand_versions_compare_in_bounded_memory(tmp_path: Path) -> None:
    """Every planted defect is found with DuckDB held to 64 MB. The writers consume generators
    (a page or a row at a time) and the tables load files: while DuckDB loads and compares the
    200k-row sets, Python's own allocations stay far below what the rows would take as objects
    (tracemalloc; the rows as tuples of strings would take well over 50 MiB)."""
    write_versions(versions(), tmp_path / "versions.csv")
    sink = IndexSink(tmp_path / "index.csv")
    for page in index_pages():
        sink.add(page)
    sink.close()
    for side in ("archive", "replica"):
        write_report(report(side), tmp_path / f"{side}.csv")
    tracemalloc.start()
    try:
        with ChecksumTables(tmp_path / "db", memory_limit="64MB", threads=1) as tables:
            assert tables.choose(tmp_path / "versions.csv", None, 0) == N
            tables.load_index(sink.path)
            for side in ("archive", "replica"):
                tables.load_report(side, tmp_path / f"{side}.csv")
            c = tables.compare()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2 * 2**20, f"Python allocated {peak / 2**20:.1f} MiB at peak"
    assert (c.versions, c.index_items, c.unindexed) == (N, N - len(UNINDEXED), len(UNINDEXED))
    assert c.kind("archive-mismatch") == (len(ARCHIVE_BAD), sorted(label(n) for n in ARCHIVE_BAD)[:EVIDENCE_CAP])
    assert c.kind("replica-mismatch") == (len(REPLICA_BAD) + 2, sorted(label(n) for n in REPLICA_BAD | {9000, 9001}))
    assert c.kind("index-without-checksum") == (2, sorted(label(n) for n in NO_CHECKSUM))
    assert c.not_verified["archive"] == {"count": 0, "errors": {}, "labels": []}
    assert c.not_verified["replica"] == {"count": 3, "errors": {"AccessDenied": 1, "NotInReport": 1, "TaskFailed": 1},
                                         "labels": sorted(label(n) for n in (11000, 11001, 12000))}
    disagreeing = ARCHIVE_BAD | REPLICA_BAD | NO_CHECKSUM | UNINDEXED | set(FAILED) | MISSING
    assert c.matched == N - len(disagreeing)
    assert c.index_matches == N - len(ARCHIVE_BAD | NO_CHECKSUM | UNINDEXED)


def test_a_sample_is_the_draw_random_sample_makes_over_the_sorted_versions(tmp_path: Path) -> None:
    rows = [(key(n), f"v{n}") for n in range(500)]
    write_versions(reversed(rows + rows[:10]), tmp_path / "v.csv")      # any order, duplicates once
    with ChecksumTables(tmp_path / "db") as tables:
        assert tables.choose(tmp_path / "v.csv", 7, seed=11) == 7
        drawn = tables.execute("SELECT key, version_id FROM wanted ORDER BY key, version_id").fetchall()
    assert drawn == sorted(random.Random(11).sample(sorted(rows), 7))


def test_a_sample_of_many_versions_is_drawn_in_a_small_memory_limit(tmp_path: Path) -> None:
    """300,000 versions in shuffled order, two threads, 64 MB: the same draw (the ranks come from
    a sort that spills, not a window that holds every row)."""
    rows = [(key(n), f"v{n}") for n in range(300_000)]
    shuffled = rows[:]
    random.Random(3).shuffle(shuffled)
    write_versions(iter(shuffled), tmp_path / "v.csv")
    with ChecksumTables(tmp_path / "db", memory_limit="64MB", threads=2) as tables:
        assert tables.choose(tmp_path / "v.csv", 50, seed=5) == 50
        drawn = tables.execute("SELECT key, version_id FROM wanted ORDER BY key, version_id").fetchall()
    assert drawn == sorted(random.Random(5).sample(sorted(rows), 50))


def test_the_manifest_is_written_by_duckdb_with_keys_url_encoded(tmp_path: Path) -> None:
    """The same lines as ``manifest_csv`` writes: S3 Batch Operations CSV manifests carry URL-encoded keys
    (https://docs.aws.amazon.com/AmazonS3/latest/userguide/batch-ops-create-job.html#specify-batchjob-manifest)."""
    from drills.probes.batch_jobs import manifest_csv

    rows = [("dicom/1.2/1.3/1.4.dcm", "v1"), ("dicom/a b/c+d/é.dcm", "null")]
    write_versions(iter(rows), tmp_path / "v.csv")
    with ChecksumTables(tmp_path / "db") as tables:
        tables.choose(tmp_path / "v.csv", None, 0)
        assert tables.write_manifest(BUCKET, tmp_path / "m.csv") == 2
    written = (tmp_path / "m.csv").read_bytes().splitlines()            # in fingerprint order: any order will do
    assert sorted(written) == sorted(manifest_csv((BUCKET, k, v) for k, v in rows).splitlines())


def test_a_version_reported_twice_counts_by_its_last_row_and_error_codes_are_kept_per_side(tmp_path: Path) -> None:
    """Both the index and a report may name a version twice (a rescan, a retried task): the
    last row is the one compared. Error codes met first on either side are named on both."""
    write_versions(((key(n), f"v{n}") for n in range(4)), tmp_path / "v.csv")
    sink = IndexSink(tmp_path / "index.csv")
    sink.add([IndexItem("s", "x", key(n), f"v{n}", digest(n), 1, "RAD") for n in range(4)])
    sink.add([IndexItem("s", "x", key(0), "v0", digest(0, "old"), 1, "RAD")])          # the last word: differs
    sink.close()

    def ok(n: int, salt: str = "") -> TaskResult:
        return TaskResult(BUCKET, key(n), f"v{n}", "succeeded", "", "200",
                          json.dumps({"checksum_base64": digest(n, salt), "checksumAlgorithm": "SHA256",
                                      "checksumType": "FULL_OBJECT"}))
    write_report([ok(0), ok(1, "x"), ok(1), ok(2), TaskResult(BUCKET, key(3), "v3", "failed", "SlowDown", "503", "")],
                 tmp_path / "archive.csv")                                            # 1: retried, now right
    write_report([ok(0), ok(1), TaskResult(BUCKET, key(2), "v2", "failed", "AccessDenied", "403", ""), ok(3)],
                 tmp_path / "replica.csv")
    with ChecksumTables(tmp_path / "db") as tables:
        tables.choose(tmp_path / "v.csv", None, 0)
        tables.load_index(sink.path)
        for side in ("archive", "replica"):
            tables.load_report(side, tmp_path / f"{side}.csv")
        c = tables.compare()
    assert c.kind("archive-mismatch") == (1, [label(0)]) and c.kind("replica-mismatch") == (1, [label(0)])
    assert c.matched == 1 and c.index_items == 4
    assert c.not_verified["archive"] == {"count": 1, "errors": {"SlowDown": 1}, "labels": [label(3)]}
    assert c.not_verified["replica"] == {"count": 1, "errors": {"AccessDenied": 1}, "labels": [label(2)]}


def test_an_empty_report_names_every_version_not_in_report(tmp_path: Path) -> None:
    """A job that ran no task leaves no report rows: nothing verified, nothing passed."""
    write_versions(((key(n), f"v{n}") for n in range(3)), tmp_path / "v.csv")
    write_report(iter(()), tmp_path / "archive.csv")
    with ChecksumTables(tmp_path / "db") as tables:
        tables.choose(tmp_path / "v.csv", None, 0)
        tables.load_report("archive", tmp_path / "archive.csv")
        c = tables.compare(sides=("archive",))
    assert c.not_verified["archive"] == {"count": 3, "errors": {"NotInReport": 3}, "labels": [label(n) for n in range(3)]}
    assert c.matched == 0 and c.kind("differs-index") == (0, [])
