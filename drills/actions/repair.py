"""Run a repair plan (``drills/actions/repair_plan.py``) as S3 Batch Operations jobs: one job per
kind and bucket, in that bucket's region, its manifest and completion report in the region's
inventory bucket under ``drkit-batch/repair/<run>/``; wait for each on the drill's clock and
read every task's result from the completion report.

Operations (S3 Control ``CreateJob``): ``S3ReplicateObject`` (Batch Replication: the bucket's
replication configuration copies each listed version, whatever its replication status —
"Replicating existing objects with S3 Batch Replication"), ``S3InitiateRestoreObject``
(``GlacierJobTier`` BULK or STANDARD — the two Batch Operations accepts — and
``ExpirationInDays``), ``S3ComputeObjectChecksum`` (SHA-256, FULL_OBJECT; compared with the
study index). A task that failed is reported with its error code; the repair is then
incomplete (exit 1). Every time on the embedded cloud is virtual.

Memory stays bounded at any batch size: the manifest is uploaded from its file, and each
completion report is streamed from S3 to a file a row at a time and compared with the batch's
versions (and, for checksums, the study index) by DuckDB (``checksum_compare``); only counts,
error codes and the first ``EVIDENCE_CAP`` labels reach Python.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

from drills.actions.repair_plan import Batch, Plan
from drills.probes import batch_jobs
from drills.probes.batch_checksums import WORK_PREFIX, work_bucket
from drills.probes.checksum_compare import ChecksumTables, Comparison, IndexSink, write_report, write_versions
from drills.probes.observe import Observation
from drills.probes.reconcile import DEFAULT_MEMORY_LIMIT
from drills.probes.rung import EVIDENCE_CAP

RESTORE_TIERS = ("BULK", "STANDARD")     # S3InitiateRestoreObjectOperation.GlacierJobTier
CHECKSUM = {"ChecksumAlgorithm": "SHA256", "ChecksumType": "FULL_OBJECT"}


@dataclass(frozen=True)
class RepairOptions:
    role_arn: str
    restore_tier: str = "BULK"
    restore_days: int = 1
    memory_limit: str = DEFAULT_MEMORY_LIMIT     # DuckDB's, for comparing reports with the batch
    threads: int = 1                             # DuckDB's threads for that comparison


def operation(kind: str, options: RepairOptions) -> dict[str, Any]:
    if kind == "replicate":
        return {"S3ReplicateObject": {}}
    if kind == "restore":
        return {"S3InitiateRestoreObject": {"ExpirationInDays": options.restore_days,
                                            "GlacierJobTier": options.restore_tier}}
    if kind == "checksum":
        return {"S3ComputeObjectChecksum": dict(CHECKSUM)}
    raise ValueError(f"unknown repair kind {kind!r}")


@dataclass
class Outcome:
    batch: Batch
    region: str
    job: batch_jobs.JobRun | None = None
    failed_count: int = 0                                        # tasks failed or not reported
    failed_errors: dict[str, int] = field(default_factory=dict)  # error code -> tasks
    failed_labels: list[str] = field(default_factory=list)       # the first EVIDENCE_CAP of them
    index_matches: int = 0                                       # checksum kind: computed == index
    index_mismatch_count: int = 0                                # computed, but not the index's value
    index_mismatches: list[str] = field(default_factory=list)    # the first EVIDENCE_CAP of them

    @property
    def ok(self) -> bool:
        return (self.job is not None and self.job.status == "Complete" and not self.failed_count
                and not self.batch.unlisted and not self.index_mismatch_count)

    def to_json(self, manifest: str | None = None) -> dict[str, Any]:
        b = self.batch
        document: dict[str, Any] = {
            "kind": b.kind, "side": b.side, "bucket": b.bucket, "region": self.region, "versions": b.count,
            "unlisted": b.unlisted, "findingCodes": sorted(b.codes), "manifest": manifest,
            "job": self.job.to_json() if self.job else None,
            "failedTasks": {"count": self.failed_count, "errors": dict(sorted(self.failed_errors.items())),
                            "labels": self.failed_labels[:EVIDENCE_CAP]}}
        if b.kind == "checksum":
            document["checksums"] = {"matchIndex": self.index_matches, "mismatchCount": self.index_mismatch_count,
                                     "mismatch": self.index_mismatches[:EVIDENCE_CAP]}
        return document


def region_of(obs: Observation, side: str) -> str:
    return obs.outputs.primaryRegion if side == "archive" else obs.outputs.drRegion


def execute(plan: Plan, obs: Observation, options: RepairOptions, run: str,
            manifests: dict[tuple[str, str], Path] | None = None) -> list[Outcome]:
    """One job per batch of the plan, in order; each waited for and its report compared with
    the batch. ``manifests``: the batches' manifest files already written (``Plan.write_manifests``);
    otherwise they are written to a temporary folder."""
    outcomes = []
    with tempfile.TemporaryDirectory(prefix="drkit-repair-") as tmp:
        for b in plan.ordered():
            region = region_of(obs, b.side)
            outcome = Outcome(b, region)
            outcomes.append(outcome)
            if not b.count:
                continue
            manifest = (manifests or {}).get((b.kind, b.side))
            if manifest is None:
                manifest = Path(tmp) / f"manifest-{b.kind}-{b.side}.csv"
                b.write_manifest(manifest)
            s3 = obs.client("s3", region)
            job = batch_jobs.run_job(s3, obs.client("s3control", region), options.role_arn,
                                     operation(b.kind, options), manifest, work_bucket(obs, region, b.bucket),
                                     f"{WORK_PREFIX}/repair/{run}/{b.kind}-{b.side}", obs.clock.wait, region,
                                     description=f"drkit repair {b.kind} ({b.side})")
            outcome.job = job
            index = _index_of(obs) if b.kind == "checksum" else None
            compared = compare_tasks(b.versions_iter(), batch_jobs.report_rows(s3, job),
                                     Path(tmp) / f"compare-{b.kind}-{b.side}", options.memory_limit, index=index,
                                     threads=options.threads)
            record(outcome, compared)
    return outcomes


def _index_of(obs: Observation) -> Callable[[IndexSink], None]:
    """Feeds the study index to a sink, a Scan page at a time."""
    def feed(sink: IndexSink) -> None:
        obs.index_pages(obs.outputs.primaryRegion, sink.add)
    return feed


def compare_tasks(versions: Iterable[tuple[str, str]], results: Iterable[batch_jobs.TaskResult], folder: Path,
                  memory_limit: str = DEFAULT_MEMORY_LIMIT,
                  index: Callable[[IndexSink], None] | None = None, threads: int = 1) -> Comparison:
    """A job's completion report (``results``, streamed) against the versions it was given
    (streamed): both go to files a row at a time and DuckDB compares them (``checksum_compare``).
    ``index``: for a compute-checksum job, a function that feeds the study index to an
    ``IndexSink`` (a Scan page at a time); the computed values are then compared with it.
    The comparison's ``not_verified["archive"]`` holds the tasks that failed or were not
    reported (the batch's side, whichever it is, is loaded as "archive")."""
    folder.mkdir(parents=True, exist_ok=True)
    write_versions(versions, folder / "versions.csv")
    write_report(results, folder / "report.csv")
    sink = IndexSink(folder / "index.csv")
    try:
        if index is not None:
            index(sink)
    finally:
        sink.close()
    with ChecksumTables(folder / "db", memory_limit=memory_limit, threads=threads) as tables:
        tables.choose(folder / "versions.csv", None, 0)
        if index is not None:
            tables.load_index(sink.path)
        tables.load_report("archive", folder / "report.csv", checksums=index is not None)
        comparison = tables.compare(sides=("archive",))
    for name in ("versions.csv", "report.csv", "index.csv"):
        (folder / name).unlink()
    return comparison


def record(outcome: Outcome, comparison: Comparison) -> None:
    failed = comparison.not_verified["archive"]
    outcome.failed_count, outcome.failed_errors, outcome.failed_labels = (failed["count"], failed["errors"],
                                                                         failed["labels"])
    if outcome.batch.kind == "checksum":
        outcome.index_matches = comparison.index_matches
        outcome.index_mismatch_count, outcome.index_mismatches = comparison.kind("differs-index")
