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

import random
import uuid
from collections import Counter
from dataclasses import dataclass
from typing import Iterable

from drills.engine.model import RungResult, Severity
from drills.probes import batch_jobs
from drills.probes.integrity import CHECKSUMS, CHECKSUMS_NAME
from drills.probes.inventory_report import ReportUnusable, locate
from drills.probes.observe import Observation, Unobservable
from drills.probes.rung import EVIDENCE_CAP, RungReport, version_label

WORK_PREFIX = "drkit-batch"
OPERATION = {"S3ComputeObjectChecksum": {"ChecksumAlgorithm": "SHA256", "ChecksumType": "FULL_OBJECT"}}
STEP_SECONDS = 30.0


@dataclass(frozen=True)
class BatchSettings:
    """How rung 5 runs its jobs."""

    role_arn: str | None = None      # None: the stack output batchOperationsRoleArn
    sample: int | None = None        # None: every current version; N: N of them, drawn with ``seed``
    seed: int | None = None


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


def choose(versions: list[tuple[str, str]], sample: int | None, seed: int) -> list[tuple[str, str]]:
    ordered = sorted(set(versions))
    if sample is None or sample >= len(ordered):
        return ordered
    return sorted(random.Random(seed).sample(ordered, sample))


def check(obs: Observation, versions: Iterable[tuple[str, str]], settings: BatchSettings) -> RungResult:
    """Rung 5 from compute-checksum jobs over ``versions`` (current archive versions, key and id)."""
    report = RungReport(CHECKSUMS, CHECKSUMS_NAME)
    role = role_of(obs, settings)
    o = obs.outputs
    seed = settings.seed if settings.seed is not None else int(obs.clock.now().strftime("%Y%m%d"))
    wanted = choose(list(versions), settings.sample, seed)
    index = {(i.key, i.version_id): i for i in obs.index(o.primaryRegion)}
    run = f"{obs.clock.now().strftime('%Y%m%dT%H%M%SZ')}-{uuid.uuid4().hex[:8]}"
    computed: dict[str, dict[tuple[str, str], str]] = {}
    not_verified: dict[str, dict[str, str]] = {}
    jobs = []
    for side, region, bucket in (("archive", o.primaryRegion, o.archiveBucket),
                                 ("replica", o.drRegion, o.replicaBucket)):
        if not wanted:
            computed[side], not_verified[side] = {}, {}
            continue
        job = batch_jobs.run_job(obs.client("s3", region), obs.client("s3control", region), role, OPERATION,
                                 [(bucket, k, v) for k, v in wanted], work_bucket(obs, region, bucket),
                                 f"{WORK_PREFIX}/verify/{run}/{side}", obs.clock.wait, region,
                                 description=f"drkit verify rung 5 ({side})")
        jobs.append(job.to_json())
        computed[side], not_verified[side] = task_outcomes(job, wanted)
    archive_bad, replica_bad, no_index_checksum = [], [], []
    matched = unindexed = 0
    for kv in wanted:
        label = version_label(*kv)
        a, r = computed["archive"].get(kv), computed["replica"].get(kv)
        item = index.get(kv)
        if item is None:                      # not indexed (rung 7): archive and replica must still agree
            unindexed += 1
            if a and r and a != r:
                replica_bad.append(label)
            continue
        if not item.checksum_sha256:
            no_index_checksum.append(label)
            continue
        if a and a != item.checksum_sha256:
            archive_bad.append(label)
        if r and r != item.checksum_sha256:
            replica_bad.append(label)
        if a == r == item.checksum_sha256:
            matched += 1
    unverified = {side: n for side, n in not_verified.items() if n}
    report.counts.update(
        indexItems=len(index), versions=len(wanted), matched=matched, archiveMismatch=len(archive_bad),
        replicaMismatch=len(replica_bad), checksumAbsent=0, indexWithoutChecksum=len(no_index_checksum),
        comparedWithoutIndex=unindexed, method="s3-batch-compute-checksum", algorithm="SHA256",
        sample=settings.sample, seed=seed if settings.sample is not None else None, jobs=jobs,
        notVerified={side: {"count": len(n), "errors": dict(Counter(n.values())),
                            "labels": sorted(n)[:EVIDENCE_CAP]} for side, n in not_verified.items()},
        simulated=bool(getattr(obs.clock, "simulated", False)))
    report.find_labels("archive-checksum-mismatch", Severity.CRITICAL, o.archiveBucket,
                       f"archive version(s) in {o.archiveBucket} whose SHA-256 computed by S3 Batch Operations "
                       f"differs from the index {o.indexTable}", archive_bad,
                       remediation="restore the version from the replica or a backup after confirming its copy")
    report.find_labels("replica-checksum-mismatch", Severity.CRITICAL, o.replicaBucket,
                       f"replica version(s) in {o.replicaBucket} whose SHA-256 computed by S3 Batch Operations "
                       "differs from the index (or from the archive's)", replica_bad,
                       remediation="re-replicate them (drkit repair, S3 Batch Replication)")
    report.find_labels("index-checksum-absent", Severity.HIGH, o.indexTable,
                       f"index item(s) in {o.indexTable} without ChecksumSHA256", no_index_checksum)
    for side, failed in unverified.items():
        errors = ", ".join(f"{code} x{n}" for code, n in sorted(Counter(failed.values()).items()))
        report.not_verified(f"{len(failed)} {side} version(s) not verified: the compute-checksum job did not "
                            f"report a checksum for them ({errors})")
    for job in jobs:
        if job["status"] != "Complete":
            report.not_verified(f"{job['operation']} job {job['jobId']} ({job['region']}) ended {job['status']}"
                                + (f": {job['failure']}" if job["failure"] else ""))
    return report.result()


def task_outcomes(job: batch_jobs.JobRun, wanted: list[tuple[str, str]]
                  ) -> tuple[dict[tuple[str, str], str], dict[str, str]]:
    """(version -> computed base64 SHA-256, label -> error code of versions without one)."""
    reported = batch_jobs.by_version(job.results, {k for k, _ in wanted})
    computed: dict[tuple[str, str], str] = {}
    failed: dict[str, str] = {}
    for kv in wanted:
        r = reported.get(kv)
        value = r.checksum("SHA256") if r is not None else None
        if value is not None:
            computed[kv] = value
        elif r is None:
            failed[version_label(*kv)] = "NotInReport"
        else:
            failed[version_label(*kv)] = r.error_code or ("NoChecksumInResult" if r.status == "succeeded"
                                                          else "TaskFailed")
    return computed, failed
