"""Rung 5 at scale: byte integrity through S3 Batch Operations ``S3ComputeObjectChecksum``.

Checksum *values* are in neither listings nor S3 Inventory, and a HEAD per version does not
finish at tens of millions. Here S3 hashes the stored bytes itself (any storage class, no
restore, no download — "Compute checksums", S3 User Guide, batch-ops-compute-checksums.html):

1. the current archive versions under the scope (from the inventory reconciliation or the
   listing; or ``sample`` of them, drawn with a recorded seed) become two CSV manifests
   (``Bucket,Key,VersionId``): the archive's, and the replica's with the same version ids
   (replication keeps them) — each written to its region's inventory bucket under
   ``drkit-batch/verify/<run>/``, where the stack's Batch Operations role may read and write;
2. one job per region (a job runs in its bucket's region) computes SHA-256, FULL_OBJECT;
3. each completion report is compared with the study index's ``ChecksumSHA256``: a
   difference is a finding naming the version (key of UIDs + version id, no patient data);
   a task the job failed on is *not verified* with its error code, never passed.

The same findings codes as the listing path's rung 5 (``drills/probes/integrity.py``).
"""

from __future__ import annotations

import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from drills.engine.model import RungResult, Severity
from drills.probes import batch_jobs
from drills.probes.checksum_compare import (DEFAULT_MEMORY_LIMIT, SIDES, ChecksumTables, IndexSink, write_report,
                                            write_versions)
from drills.probes.integrity import CHECKSUMS, CHECKSUMS_NAME
from drills.probes.inventory_report import ReportUnusable, locate
from drills.probes.observe import Observation, Unobservable
from drills.probes.rung import RungReport

WORK_PREFIX = "drkit-batch"
OPERATION = {"S3ComputeObjectChecksum": {"ChecksumAlgorithm": "SHA256", "ChecksumType": "FULL_OBJECT"}}
STEP_SECONDS = 30.0


@dataclass(frozen=True)
class BatchSettings:
    """How rung 5 runs its jobs."""

    role_arn: str | None = None      # None: the stack output batchOperationsRoleArn
    sample: int | None = None        # None: every current version; N: N of them, drawn with ``seed``
    seed: int | None = None
    memory_limit: str = DEFAULT_MEMORY_LIMIT    # DuckDB's, for the comparison (spills beyond it)
    temp_dir: str | None = None      # where the comparison's files go (None: the system's)


def role_of(obs: Observation, settings: BatchSettings) -> str:
    role = settings.role_arn or getattr(obs.outputs, "batchOperationsRoleArn", None)
    if not role:
        raise Unobservable("no S3 Batch Operations role: the stack outputs name no batchOperationsRoleArn "
                           "(re-deploy the stack, which declares it) and no --batch-role-arn was given")
    return role


def work_bucket(obs: Observation, region: str, bucket: str) -> str:
    """The inventory bucket of ``bucket``: where its jobs' manifests and reports go."""
    try:
        return locate(obs.client("s3", region), bucket).destination_bucket
    except ReportUnusable as exc:
        raise Unobservable(f"no bucket for Batch Operations manifests and reports: {exc}") from exc


def check(obs: Observation, versions: Iterable[tuple[str, str]] | Path, settings: BatchSettings) -> RungResult:
    """Rung 5 from compute-checksum jobs over ``versions`` (current archive versions, key and id:
    an iterator, or a CSV file of them such as ``reconcile.export_current_versions`` writes).
    The versions, the index and the reports stream to files and are compared by DuckDB
    (``checksum_compare``): memory stays bounded at any archive size."""
    role = role_of(obs, settings)
    with tempfile.TemporaryDirectory(prefix="drkit-rung5-", dir=settings.temp_dir) as tmp:
        folder = Path(tmp)
        if not isinstance(versions, Path):
            write_versions(versions, folder / "versions.csv")
            versions = folder / "versions.csv"
        with ChecksumTables(folder / "db", memory_limit=settings.memory_limit) as tables:
            return _check(obs, versions, settings, role, tables, folder)


def _check(obs: Observation, candidates: Path, settings: BatchSettings, role: str, tables: ChecksumTables,
           folder: Path) -> RungResult:
    report = RungReport(CHECKSUMS, CHECKSUMS_NAME)
    o = obs.outputs
    seed = settings.seed if settings.seed is not None else int(obs.clock.now().strftime("%Y%m%d"))
    n_wanted = tables.choose(candidates, settings.sample, seed)
    sink = IndexSink(folder / "index.csv")
    try:
        obs.index_pages(o.primaryRegion, sink.add)
    finally:
        sink.close()
    tables.load_index(sink.path)
    run = f"{obs.clock.now().strftime('%Y%m%dT%H%M%SZ')}-{uuid.uuid4().hex[:8]}"
    jobs = []
    for side, region, bucket in (("archive", o.primaryRegion, o.archiveBucket),
                                 ("replica", o.drRegion, o.replicaBucket)):
        if not n_wanted:
            continue
        manifest = folder / f"manifest-{side}.csv"
        tables.write_manifest(bucket, manifest)
        s3 = obs.client("s3", region)
        job = batch_jobs.run_job(s3, obs.client("s3control", region), role, OPERATION, manifest,
                                 work_bucket(obs, region, bucket), f"{WORK_PREFIX}/verify/{run}/{side}",
                                 obs.clock.wait, region, description=f"drkit verify rung 5 ({side})")
        jobs.append(job.to_json())
        write_report(batch_jobs.report_rows(s3, job), folder / f"report-{side}.csv")
        tables.load_report(side, folder / f"report-{side}.csv")
    c = tables.compare()
    archive_n, archive_bad = c.kind("archive-mismatch")
    replica_n, replica_bad = c.kind("replica-mismatch")
    absent_n, no_index_checksum = c.kind("index-without-checksum")
    not_verified = {side: c.not_verified[side] for side in SIDES}
    report.counts.update(
        indexItems=c.index_items, versions=c.versions, matched=c.matched, archiveMismatch=archive_n,
        replicaMismatch=replica_n, checksumAbsent=0, indexWithoutChecksum=absent_n,
        comparedWithoutIndex=c.unindexed, method="s3-batch-compute-checksum", algorithm="SHA256",
        sample=settings.sample, seed=seed if settings.sample is not None else None, jobs=jobs,
        notVerified=not_verified, simulated=bool(getattr(obs.clock, "simulated", False)))
    report.find_counted("archive-checksum-mismatch", Severity.CRITICAL, o.archiveBucket,
                        f"archive version(s) in {o.archiveBucket} whose SHA-256 computed by S3 Batch Operations "
                        f"differs from the index {o.indexTable}", archive_n, archive_bad,
                        remediation="restore the version from the replica or a backup after confirming its copy")
    report.find_counted("replica-checksum-mismatch", Severity.CRITICAL, o.replicaBucket,
                        f"replica version(s) in {o.replicaBucket} whose SHA-256 computed by S3 Batch Operations "
                        "differs from the index (or from the archive's)", replica_n, replica_bad,
                        remediation="re-replicate them (drkit repair, S3 Batch Replication)")
    report.find_counted("index-checksum-absent", Severity.HIGH, o.indexTable,
                        f"index item(s) in {o.indexTable} without ChecksumSHA256", absent_n, no_index_checksum)
    for side, failed in not_verified.items():
        if failed["count"]:
            errors = ", ".join(f"{code} x{n}" for code, n in sorted(failed["errors"].items()))
            report.not_verified(f"{failed['count']} {side} version(s) not verified: the compute-checksum job did "
                                f"not report a checksum for them ({errors})")
    for job in jobs:
        if job["status"] != "Complete":
            report.not_verified(f"{job['operation']} job {job['jobId']} ({job['region']}) ended {job['status']}"
                                + (f": {job['failure']}" if job["failure"] else ""))
    return report.result()

