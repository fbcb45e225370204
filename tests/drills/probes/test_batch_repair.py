"""Byte integrity and repair at scale with S3 Batch Operations on the shared dev stack:
a compute-checksum job's report compared with the index finds altered replica bytes, and a
Batch Replication job written from the reconciliation's findings repairs a FAILED version.

AWS: "Compute checksums" (https://docs.aws.amazon.com/AmazonS3/latest/userguide/batch-ops-compute-checksums.html)
hashes stored objects without restoring or downloading them; "Replicating existing objects
with Batch Replication" (https://docs.aws.amazon.com/AmazonS3/latest/userguide/s3-batch-replication-batch.html)
replicates never-replicated and FAILED objects (REFERENCE.md: live replication never retries them).
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path

from drills.cloud.control import HttpControl
from drills.engine.model import Status
from drills.probes import reconcile
from drills.probes.batch_jobs import (compare_checksums, create_job, manifest_csv, put_manifest, read_report,
                                      wait_job)
from drills.probes.inventory_path import fetch_reports
from drills.probes.observe import Observation
from tests.drills.probes.plant import replica_bytes_altered, replication_failed

ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/drkit-batch"


def _jobs_bucket(stack) -> str:
    name = f"drkit-jobs-{uuid.uuid4().hex[:12]}"
    stack.s3().create_bucket(Bucket=name)
    return name


def _run(stack, operation, rows_or_body, jobs: str):
    s3, s3control = stack.s3(), stack.cloud.target.client("s3control", stack.outputs.primaryRegion)
    body = rows_or_body if isinstance(rows_or_body, bytes) else manifest_csv(rows_or_body)
    location = put_manifest(s3, jobs, f"manifests/{uuid.uuid4().hex}.csv", body)
    job_id = create_job(s3control, ACCOUNT, operation, location, jobs, "reports", ROLE)
    job = wait_job(s3control, ACCOUNT, job_id, advance=stack.cloud.clock.advance)
    return job, read_report(s3, jobs, "reports", job_id)


def test_compute_checksum_job_finds_altered_replica_bytes_the_index_disagrees_with(healthy):
    items = [i for i in Observation(healthy.ctx()).index(healthy.outputs.primaryRegion)][:4]
    expected = {(i.key, i.version_id): i.checksum_sha256 for i in items}
    target = items[0]
    jobs = _jobs_bucket(healthy)
    with replica_bytes_altered(healthy, target.key, target.version_id):
        job, results = _run(healthy, {"S3ComputeObjectChecksum": {"ChecksumAlgorithm": "SHA256",
                                                                  "ChecksumType": "FULL_OBJECT"}},
                            [(healthy.bucket("replica"), k, v) for k, v in expected], jobs)
    assert job["Status"] == "Complete" and len(results) == len(expected)
    comparison = compare_checksums(results, expected)
    assert comparison.mismatched == [f"{target.key}@{target.version_id}"]
    assert comparison.matched == len(expected) - 1 and not comparison.failed and not comparison.unreported


def test_batch_replication_from_the_reconciliation_repairs_a_failed_version(healthy, tmp_path: Path):
    key, _ = healthy.current(2)
    control = HttpControl(healthy.cloud.endpoint)
    jobs = _jobs_bucket(healthy)
    with replication_failed(healthy, key) as version:
        healthy.cloud.clock.advance(timedelta(minutes=20))
        control.call("replication", "clear_failures", {"bucket": healthy.bucket("archive")})
        control.call("inventory", "generate", {})
        obs = Observation(healthy.ctx())
        archive, replica = fetch_reports(obs, tmp_path / "reports")
        now, cutoff = reconcile.cutoff_of(obs)
        engine = reconcile.open_engine(archive, replica, "dicom/", cutoff, now, temp_dir=str(tmp_path / "db"))
        try:
            manifest = tmp_path / "repair.csv"
            rows = reconcile.export_repair_manifest(engine, healthy.bucket("archive"), manifest)
        finally:
            engine.close()
        assert rows == 1 and manifest.read_text().strip().endswith(f",{version}")
        job, results = _run(healthy, {"S3ReplicateObject": {}}, manifest.read_bytes(), jobs)
        assert job["Status"] == "Complete" and [r.status for r in results] == ["succeeded"]
        healthy.cloud.clock.advance(timedelta(minutes=20))
        replica = healthy.s3("replica")
        head = replica.head_object(Bucket=healthy.bucket("replica"), Key=key, VersionId=version)
        try:
            assert head["ReplicationStatus"] == "REPLICA"
            assert healthy.ladder(2)[2].status is Status.PASSED
        finally:   # the planted version is dropped from the archive on exit: drop its repaired copy too
            replica.delete_object(Bucket=healthy.bucket("replica"), Key=key, VersionId=version,
                                  BypassGovernanceRetention=True)
