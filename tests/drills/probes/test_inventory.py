"""Rung 1 (inventory parity from listings) on the shared dev stack."""

from __future__ import annotations

from drills.engine.model import Status
from tests.drills.probes.plant import replica_version_deleted, replication_failed


def test_a_replica_version_deleted_fails_inventory_parity_naming_the_replica_bucket(healthy) -> None:
    """A delete with a version id is never replicated (AWS: "What does Amazon S3 replicate?",
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/replication-what-is-isnot-replicated.html),
    so the archive keeps the version the replica lost."""
    key, version = healthy.current(0)
    with replica_version_deleted(healthy, key, version):
        result = healthy.ladder(1)[1]
    assert result.status is Status.FAILED
    (finding,) = result.findings
    assert finding.code == "replica-missing-versions"
    assert finding.resource == healthy.outputs.replicaBucket
    assert finding.evidence["labels"] == [f"{key}@{version}"]
    assert result.counts["replica"]["instances"] == result.counts["archive"]["instances"] - 1
    assert healthy.ladder(1)[1].status is Status.PASSED          # undone


def test_a_version_younger_than_the_threshold_is_in_flight_not_missing(healthy) -> None:
    """RTC replicates 99.99% of objects within 15 minutes (AWS: "Meeting compliance requirements
    with S3 Replication Time Control", https://docs.aws.amazon.com/AmazonS3/latest/userguide/replication-time-control.html):
    a version one minute old without a replica is still allowed to be on its way."""
    key, _ = healthy.current(1)
    with replication_failed(healthy, key):
        result = healthy.ladder(1)[1]
    assert result.status is Status.PASSED
    assert result.counts["inFlight"] == 1 and result.counts["thresholdMinutes"] == 15
