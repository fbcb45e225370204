"""Rung 2 (replication state) on the shared dev stack."""

from __future__ import annotations

from drills.engine.model import Status
from tests.drills.probes.plant import replica_version_deleted, replication_failed, replication_paused


def test_a_failed_replication_fails_the_rung_naming_the_archive_version(healthy) -> None:
    """Source objects report FAILED when replication fails (AWS: "Getting replication status
    information", https://docs.aws.amazon.com/AmazonS3/latest/userguide/replication-status.html)."""
    key, _ = healthy.current(3)
    with replication_failed(healthy, key) as version:
        result = healthy.ladder(2)[2]
    assert result.status is Status.FAILED
    assert result.counts["statuses"]["FAILED"] == 1
    failed = [f for f in result.findings if f.code == "replication-failed"]
    assert len(failed) == 1 and failed[0].resource == healthy.outputs.archiveBucket
    assert failed[0].evidence["labels"] == [f"{key}@{version}"]


def test_completed_without_a_copy_under_the_same_version_id_fails(healthy) -> None:
    """COMPLETED is a status flag; the rung looks the copy up by version id in the replica."""
    key, version = healthy.current(4)
    with replica_version_deleted(healthy, key, version):
        result = healthy.ladder(2)[2]
    assert result.status is Status.FAILED
    (finding,) = result.findings
    assert finding.code == "replica-missing-for-completed" and finding.resource == healthy.outputs.replicaBucket
    assert finding.evidence["labels"] == [f"{key}@{version}"]


def test_pending_longer_than_the_rtc_threshold_fails_but_younger_does_not(healthy) -> None:
    """While replication is paused objects stay PENDING (AWS FIS action
    aws:s3:bucket-pause-replication, https://docs.aws.amazon.com/fis/latest/userguide/fis-actions-reference.html);
    RTC's threshold is 15 minutes (https://docs.aws.amazon.com/AmazonS3/latest/userguide/replication-time-control.html)."""
    key, _ = healthy.current(0)
    with replication_paused(healthy, key, minutes=5):
        young = healthy.ladder(2)[2]
        healthy.cloud.clock.advance(11 * 60)
        old = healthy.ladder(2)[2]
    assert young.status is Status.PASSED and young.counts["statuses"]["PENDING"] == 1
    assert old.status is Status.FAILED
    (finding,) = old.findings
    assert finding.code == "replication-pending-over-threshold"
    assert finding.resource == healthy.outputs.archiveBucket and "15 minutes" in finding.message
