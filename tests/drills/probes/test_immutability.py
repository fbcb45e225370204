"""Rung 8 (Object Lock and legal hold parity, replica vs source)."""

from __future__ import annotations

from drills.engine.model import Status
from tests.drills.probes.plant import replica_retention_shortened


def test_a_replica_retention_shortened_under_governance_fails_as_weaker(healthy) -> None:
    """GOVERNANCE retention can be shortened with s3:BypassGovernanceRetention and the bypass
    header (AWS: "Object Lock", https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lock.html)."""
    key, version = healthy.current(2)
    with replica_retention_shortened(healthy, key, version):
        result = healthy.ladder(8)[8]
    assert result.status is Status.FAILED
    (finding,) = result.findings
    assert finding.code == "replica-lock-weaker" and finding.resource == healthy.outputs.replicaBucket
    (label,) = finding.evidence["labels"]
    assert label.startswith(f"{key}@{version} (archive GOVERNANCE/")
    assert healthy.ladder(8)[8].status is Status.PASSED      # undone


def test_a_legal_hold_only_on_the_replica_is_a_difference(healthy) -> None:
    """Legal holds apply per version and have no expiry (AWS: "Object Lock", legal holds)."""
    key, version = healthy.current(3)
    s3, bucket = healthy.s3("replica"), healthy.bucket("replica")
    s3.put_object_legal_hold(Bucket=bucket, Key=key, VersionId=version, LegalHold={"Status": "ON"})
    try:
        result = healthy.ladder(8)[8]
    finally:
        s3.put_object_legal_hold(Bucket=bucket, Key=key, VersionId=version, LegalHold={"Status": "OFF"})
    assert result.status is Status.FAILED
    (finding,) = result.findings
    assert finding.code == "replica-lock-differs" and "hold ON" in finding.evidence["labels"][0]
