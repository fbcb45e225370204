"""Rung 9 (configuration in force vs the stack's declared config)."""

from __future__ import annotations

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
