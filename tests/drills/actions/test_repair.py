"""drills/actions/repair.py: a repair job's completion report compared with the versions it was
given, streamed (no report row or version held in a Python list), and the plan's manifest-backed
batches read lazily.

AWS: "Examples: S3 Batch Operations completion reports"
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/batch-ops-examples-reports.html): one CSV
row per task (Bucket, Key, VersionId, TaskStatus, ErrorCode, HTTPStatusCode, ResultMessage);
"Compute checksums" (https://docs.aws.amazon.com/AmazonS3/latest/userguide/batch-ops-compute-checksums.html):
the computed value is in the task's result message.
"""

from __future__ import annotations

import base64
import hashlib
import json
import tracemalloc
from pathlib import Path
from typing import Iterator

from drills.actions.repair import Outcome, compare_tasks, record
from drills.actions.repair_plan import Batch, from_manifest, outside
from drills.probes.batch_jobs import TaskResult, manifest_csv
from drills.probes.observe import IndexItem

BUCKET = "archive"
N = 60_000
FAILED = {10: "AccessDenied", 11: ""}           # replicate tasks that failed (with, without a code)
UNREPORTED = {20, 21, 22}                       # no report row at all
ENCODED = 30                                    # the report echoes this key URL-encoded


def key(n: int) -> str:
    return f"dicom/1.2.{n // 100}/1.3.{n // 10}/1.4.{n}.dcm"


def label(n: int) -> str:
    return f"{key(n)}@v{n}"


def versions() -> Iterator[tuple[str, str]]:
    return ((key(n), f"v{n}") for n in range(N))


def replicate_report() -> Iterator[TaskResult]:
    for n in range(N):
        if n in UNREPORTED:
            continue
        written = key(n).replace("/", "%2F") if n == ENCODED else key(n)
        if n in FAILED:
            yield TaskResult(BUCKET, written, f"v{n}", "failed", FAILED[n], "403", "")
        else:
            yield TaskResult(BUCKET, written, f"v{n}", "succeeded", "", "200", "Successful")


def test_a_replication_report_is_compared_with_its_versions_in_bounded_memory(tmp_path: Path) -> None:
    """60,000 versions and report rows stream through files into DuckDB: Python's allocations
    stay far below what the rows would take as objects (as TaskResults in a list, well over
    20 MiB; tracemalloc), and every failed or unreported task is named."""
    tracemalloc.start()
    try:
        comparison = compare_tasks(versions(), replicate_report(), tmp_path / "c", memory_limit="64MB")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2 * 2**20, f"Python allocated {peak / 2**20:.1f} MiB at peak"
    failed = comparison.not_verified["archive"]
    assert failed == {"count": 5, "errors": {"AccessDenied": 1, "NotInReport": 3, "TaskFailed": 1},
                      "labels": sorted(label(n) for n in set(FAILED) | UNREPORTED)}
    outcome = Outcome(Batch("replicate", "archive", BUCKET), "us-east-1")
    record(outcome, comparison)
    assert (outcome.failed_count, outcome.index_mismatch_count) == (5, 0)
    assert outcome.to_json()["failedTasks"]["errors"] == {"AccessDenied": 1, "NotInReport": 3, "TaskFailed": 1}


def _sha(n: int, salt: str = "") -> str:
    return base64.b64encode(hashlib.sha256(f"{n}{salt}".encode()).digest()).decode()


def test_a_checksum_report_is_compared_with_the_index(tmp_path: Path) -> None:
    """Computed values against the index: equal, different, not computed (a succeeded task
    without a checksum in its message, a failed one) and not reported."""
    wanted = [(key(n), f"v{n}") for n in range(6)]

    def report() -> Iterator[TaskResult]:
        for n in range(5):
            if n == 3:
                yield TaskResult(BUCKET, key(n), f"v{n}", "succeeded", "", "200", "{}")
            elif n == 4:
                yield TaskResult(BUCKET, key(n), f"v{n}", "failed", "AccessDenied", "403", "")
            else:
                message = {"checksum_base64": _sha(n, "x" if n == 1 else ""), "checksumAlgorithm": "SHA256",
                           "checksumType": "FULL_OBJECT"}
                yield TaskResult(BUCKET, key(n), f"v{n}", "succeeded", "", "200", json.dumps(message))

    def index(sink) -> None:
        sink.add([IndexItem("s", "x", key(n), f"v{n}", _sha(n), 1, "RAD") for n in range(6)])

    comparison = compare_tasks(iter(wanted), report(), tmp_path / "c", index=index)
    outcome = Outcome(Batch("checksum", "replica", "replica"), "us-west-2")
    record(outcome, comparison)
    assert (outcome.index_matches, outcome.index_mismatch_count, outcome.index_mismatches) == (2, 1, [label(1)])
    assert (outcome.failed_count, outcome.failed_errors) == (3, {"AccessDenied": 1, "NoChecksumInResult": 1,
                                                                 "NotInReport": 1})
    assert outcome.failed_labels == [label(3), label(4), label(5)]


def test_a_manifest_backed_batch_is_read_a_row_at_a_time(tmp_path: Path) -> None:
    """A reconciliation's batch stays in its manifest (CSV Bucket,Key,VersionId, keys URL-encoded:
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/batch-ops-create-job.html#specify-batchjob-manifest);
    its versions are decoded as they are reached, and the drill-prefix check streams them."""
    rows = [(BUCKET, "dicom/a b/c+d.dcm", "v1"), (BUCKET, "drills/run/x.dcm", "v2"), (BUCKET, "dicom/1/2.dcm", "v3")]
    manifest = tmp_path / "m.csv"
    manifest.write_bytes(manifest_csv(rows))
    plan = from_manifest("replicate", "archive", BUCKET, manifest, len(rows), source="reconciliation")
    (batch,) = plan.ordered()
    assert batch.count == 3 and not batch.versions
    assert list(batch.versions_iter()) == [(k, v) for _, k, v in rows]
    assert list(outside(plan, "drills/")) == ["dicom/a b/c+d.dcm@v1", "dicom/1/2.dcm@v3"]
    written = plan.write_manifests(tmp_path / "out")
    assert written[("replicate", "archive")].read_bytes() == manifest.read_bytes()


def test_the_drill_prefix_check_over_a_large_manifest_holds_no_version_list(tmp_path: Path) -> None:
    """100,000 versions outside the prefix are counted as they stream (as a list of labels,
    well over 10 MiB; tracemalloc)."""
    manifest = tmp_path / "m.csv"
    with manifest.open("wb") as handle:
        for start in range(0, 100_000, 10_000):
            handle.write(manifest_csv((BUCKET, key(n), f"v{n}") for n in range(start, start + 10_000)))
    plan = from_manifest("replicate", "archive", BUCKET, manifest, 100_000, source="reconciliation")
    tracemalloc.start()
    try:
        count = sum(1 for _ in outside(plan, "drills/"))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 100_000
    assert peak < 1 * 2**20, f"Python allocated {peak / 2**20:.1f} MiB at peak"
