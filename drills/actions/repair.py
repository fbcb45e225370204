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
"""

from __future__ import annotations

import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from drills.actions.repair_plan import Batch, Plan
from drills.probes import batch_jobs
from drills.probes.batch_checksums import WORK_PREFIX, task_outcomes, work_bucket
from drills.probes.checksum_compare import ChecksumTables, IndexSink, write_report, write_versions
from drills.probes.observe import Observation
from drills.probes.rung import EVIDENCE_CAP, version_label

RESTORE_TIERS = ("BULK", "STANDARD")     # S3InitiateRestoreObjectOperation.GlacierJobTier
CHECKSUM = {"ChecksumAlgorithm": "SHA256", "ChecksumType": "FULL_OBJECT"}


@dataclass(frozen=True)
class RepairOptions:
    role_arn: str
    restore_tier: str = "BULK"
    restore_days: int = 1


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
    failed: dict[str, str] = field(default_factory=dict)        # label -> error code
    index_matches: int = 0                                       # checksum kind: computed == index
    index_mismatch_count: int = 0                                # computed, but not the index's value
    index_mismatches: list[str] = field(default_factory=list)    # the first EVIDENCE_CAP of them

    @property
    def ok(self) -> bool:
        return (self.job is not None and self.job.status == "Complete" and not self.failed
                and not self.batch.unlisted and not self.index_mismatch_count)

    def to_json(self, manifest: str | None = None) -> dict[str, Any]:
        b = self.batch
        document: dict[str, Any] = {
            "kind": b.kind, "side": b.side, "bucket": b.bucket, "region": self.region, "versions": len(b.versions),
            "unlisted": b.unlisted, "findingCodes": sorted(b.codes), "manifest": manifest,
            "job": self.job.to_json() if self.job else None,
            "failedTasks": {"count": len(self.failed), "errors": dict(Counter(self.failed.values())),
                            "labels": sorted(self.failed)[:EVIDENCE_CAP]}}
        if b.kind == "checksum":
            document["checksums"] = {"matchIndex": self.index_matches, "mismatchCount": self.index_mismatch_count,
                                     "mismatch": self.index_mismatches[:EVIDENCE_CAP]}
        return document


def region_of(obs: Observation, side: str) -> str:
    return obs.outputs.primaryRegion if side == "archive" else obs.outputs.drRegion


def execute(plan: Plan, obs: Observation, options: RepairOptions, run: str) -> list[Outcome]:
    """One job per batch of the plan, in order; each waited for and its report read."""
    outcomes = []
    for b in plan.ordered():
        region = region_of(obs, b.side)
        outcome = Outcome(b, region)
        outcomes.append(outcome)
        if not b.versions:
            continue
        job = batch_jobs.run_job(obs.client("s3", region), obs.client("s3control", region), options.role_arn,
                                 operation(b.kind, options), b.rows(), work_bucket(obs, region, b.bucket),
                                 f"{WORK_PREFIX}/repair/{run}/{b.kind}-{b.side}", obs.clock.wait, region,
                                 description=f"drkit repair {b.kind} ({b.side})")
        outcome.job = job
        wanted = sorted(b.versions)
        if b.kind == "checksum":
            _, outcome.failed = task_outcomes(job, wanted)
            against_index(obs, outcome, wanted, job.results)
        else:
            reported = batch_jobs.by_version(job.results, {k for k, _ in wanted})
            for kv in wanted:
                r = reported.get(kv)
                if r is None:
                    outcome.failed[version_label(*kv)] = "NotInReport"
                elif r.status != "succeeded":
                    outcome.failed[version_label(*kv)] = r.error_code or "TaskFailed"
    return outcomes


def against_index(obs: Observation, outcome: Outcome, wanted: list[tuple[str, str]],
                  results: list[batch_jobs.TaskResult]) -> None:
    """The computed values of a checksum batch against the study index, compared by DuckDB
    with the index streamed to disk a Scan page at a time (``checksum_compare``), never held
    whole in memory."""
    with tempfile.TemporaryDirectory(prefix="drkit-repair-checksum-") as tmp:
        folder = Path(tmp)
        write_versions(wanted, folder / "versions.csv")
        sink = IndexSink(folder / "index.csv")
        try:
            obs.index_pages(obs.outputs.primaryRegion, sink.add)
        finally:
            sink.close()
        write_report(results, folder / "report.csv")
        with ChecksumTables(folder / "db") as tables:
            tables.choose(folder / "versions.csv", None, 0)
            tables.load_index(sink.path)
            tables.load_report("archive", folder / "report.csv")     # the batch's side, whichever it is
            comparison = tables.compare(sides=())
    outcome.index_matches = comparison.index_matches
    outcome.index_mismatch_count, outcome.index_mismatches = comparison.kind("differs-index")
