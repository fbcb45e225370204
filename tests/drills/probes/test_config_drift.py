"""Rung 9 (configuration in force vs the stack's declared config)."""

from __future__ import annotations

import dataclasses
import uuid

import pytest
from botocore.exceptions import ClientError

from drills.engine.model import Status
from drills.probes.ladder import run_ladder
from drills.probes.observe import rule_prefix, rule_tags
from tests.drills.probes.plant import replication_rule_drifted


def test_rtc_and_delete_markers_switched_off_on_the_dicom_rule_are_drift(healthy) -> None:
    """RTC and delete-marker replication are per-rule settings (AWS: "Replication configuration
    file elements", https://docs.aws.amazon.com/AmazonS3/latest/userguide/replication-add-config.html)."""
    with replication_rule_drifted(healthy, rtc_off=True, delete_markers_off=True):
        result = healthy.ladder(9)[9]
    assert result.status is Status.FAILED
    codes = {f.code: f for f in result.findings}
    assert set(codes) == {"drift-replication-time-control", "drift-replication-delete-markers"}
    resource = f"{healthy.outputs.archiveBucket} replication rule 'dicom'"
    assert all(f.resource == resource for f in codes.values())
    assert codes["drift-replication-delete-markers"].evidence == {"declared": "Enabled", "observed": "Disabled"}
    assert healthy.ladder(9)[9].status is Status.PASSED


def test_a_disabled_dicom_rule_leaves_dicom_uncovered(healthy) -> None:
    with replication_rule_drifted(healthy, disabled=True):
        result = healthy.ladder(9)[9]
    assert result.status is Status.FAILED
    (finding,) = [f for f in result.findings if f.code == "drift-replication-covers-prefix"]
    assert finding.resource == f"{healthy.outputs.archiveBucket} replication (dicom/)"
    assert finding.severity.value == "critical"


def test_object_lock_default_retention_is_compared_with_the_declared_one(stack) -> None:
    """The stack file, not the deployed bucket, is the reference: a declared 30 days against
    the 1 day in force is drift on both buckets."""
    declared = dict(stack.declared)
    declared["drkit:objectLock"] = {"mode": "GOVERNANCE", "retentionDays": 30}
    (result,) = run_ladder(stack.ctx(declared=declared), rungs=[9])
    assert result.status is Status.FAILED
    drift = [f for f in result.findings if f.code == "drift-object-lock-default-retention"]
    assert {f.resource for f in drift} == {stack.outputs.archiveBucket, stack.outputs.replicaBucket}
    assert drift[0].evidence["observed"] == {"mode": "GOVERNANCE", "days": 1}


def test_rule_filters_are_read_in_each_shape() -> None:
    assert rule_prefix({"Filter": {"Prefix": "dicom/"}}) == "dicom/"
    assert rule_prefix({"Prefix": "dicom/"}) == "dicom/"
    assert rule_prefix({"Filter": {}}) == ""
    tagged = {"Filter": {"And": {"Prefix": "dicom/", "Tags": [{"Key": "k", "Value": "v"}]}}}
    assert rule_prefix(tagged) == "dicom/" and rule_tags(tagged) == {"k": "v"}
    assert rule_tags({"Filter": {"Tag": {"Key": "a", "Value": "b"}}}) == {"a": "b"}


def test_suspended_versioning_on_the_replica_is_drift_naming_it(stack) -> None:
    """Weakening 5's catching path. On the deployed replica S3 refuses the suspension: "After you
    enable Object Lock on a bucket, you can't disable Object Lock or suspend versioning for that
    bucket" (https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lock-managing.html), so
    rung 9 is pointed at a throw-away replica bucket without Object Lock, where suspension is
    possible (https://docs.aws.amazon.com/AmazonS3/latest/userguide/VersionSuspendedBehavior.html)."""
    s3 = stack.s3("replica")
    bucket = f"drkit-weak-replica-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": stack.outputs.drRegion})
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})
    try:
        outputs = dataclasses.replace(stack.outputs, replicaBucket=bucket)
        (result,) = run_ladder(stack.ctx(outputs=outputs), rungs=[9])
        (healthy,) = run_ladder(stack.ctx(), rungs=[9])
    finally:
        s3.delete_bucket(Bucket=bucket)
    assert result.status is Status.FAILED
    (finding,) = [f for f in result.findings if f.code == "drift-versioning"]
    assert finding.resource == bucket and finding.severity.value == "critical"
    assert finding.evidence == {"declared": "Enabled", "observed": "Suspended"}
    rows = {(r["check"], r["resource"]): r for r in result.counts["checks"]}
    assert rows[("object-lock", bucket)]["observed"] == "Disabled"        # why suspension was possible
    # the real replica: versioning and Object Lock observed Enabled (what "prevented" rests on)
    rows = {(r["check"], r["resource"]): r["observed"] for r in healthy.counts["checks"]}
    replica = stack.outputs.replicaBucket
    assert rows[("versioning", replica)] == "Enabled" and rows[("object-lock", replica)] == "Enabled"
    assert not [f for f in healthy.findings if f.code == "drift-versioning"]


def test_suspending_versioning_of_the_locked_replica_is_refused(stack) -> None:
    """S3: versioning of an Object Lock bucket cannot be suspended
    (https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lock-managing.html). The error
    code is S3's "not valid with the current state of the bucket", InvalidBucketState
    (https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html); the page on Object Lock
    does not name the code for this refusal."""
    with pytest.raises(ClientError) as info:
        stack.s3("replica").put_bucket_versioning(Bucket=stack.outputs.replicaBucket,
                                                  VersioningConfiguration={"Status": "Suspended"})
    assert info.value.response["Error"]["Code"] == "InvalidBucketState"
    status = stack.s3("replica").get_bucket_versioning(Bucket=stack.outputs.replicaBucket)["Status"]
    assert status == "Enabled"
