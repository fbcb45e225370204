"""S3 live replication on the embedded cloud: lag, status, what is and is not copied.

Source buckets in us-east-1, destinations in us-west-2, both versioned. The lag is fixed
at 30 simulated seconds unless a test says otherwise, so "before" and "after" are exact.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime, timedelta, timezone

import pytest
from botocore.exceptions import ClientError

from drills.cloud.sim.replication_lag import LagDistribution
from drills.cloud.simulation import SimSettings
from tests.helpers.replication import LAG, Pair, make_pair, make_rule

@pytest.fixture
def pair(cloud_factory, bucket_name) -> Pair:
    return make_pair(cloud_factory(SimSettings(replication_lag={"fixed_seconds": LAG})), bucket_name)


def sha256_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


# ------------------------------------------------------------------ lag and status
def test_replica_appears_only_after_the_lag_and_statuses_move(pair):
    pair.configure(make_rule(pair.dst))
    vid = pair.east.put_object(Bucket=pair.src, Key="dicom/a.dcm", Body=b"one")["VersionId"]

    assert pair.status("dicom/a.dcm") == "PENDING"
    pair.advance(LAG - 1)
    assert pair.replica_versions("dicom/a.dcm") == []
    assert pair.status("dicom/a.dcm") == "PENDING"
    metrics = pair.cloud.sim.status()["behaviours"]["replication"]["buckets"][pair.src]["rules"]["all"]
    assert metrics["OperationsPendingReplication"] == 1 and metrics["BytesPendingReplication"] == 3

    pair.advance(2)
    assert pair.replica_versions("dicom/a.dcm") == [vid]
    assert pair.status("dicom/a.dcm") == "COMPLETED"
    assert pair.status("dicom/a.dcm", vid, dst=True) == "REPLICA"
    lag = pair.cloud.sim.status()["behaviours"]["replication"]["lag"]
    assert lag["count"] == 1 and lag["max"] == LAG and lag["label"] == "simulated"


def test_default_lag_lands_within_fifteen_simulated_minutes(cloud, bucket_name):
    pair = make_pair(cloud, bucket_name)
    pair.configure(make_rule(pair.dst))
    for i in range(5):
        pair.east.put_object(Bucket=pair.src, Key=f"k{i}", Body=b"x")
    pair.advance(15 * 60)
    state = cloud.sim.status()["behaviours"]["replication"]
    assert state["buckets"][pair.src]["completed"] == 5
    assert 0 < state["lag"]["max"] < 15 * 60


def test_replica_keeps_bytes_checksum_metadata_tags_and_takes_rule_storage_class(pair):
    pair.configure(make_rule(pair.dst, destination={"StorageClass": "STANDARD_IA"}))
    body = b"DICM" * 1000
    put = pair.east.put_object(Bucket=pair.src, Key="dicom/s/1.dcm", Body=body, ChecksumAlgorithm="SHA256",
                               ContentType="application/dicom", Metadata={"study": "hashed"}, Tagging="tier=hot")
    pair.advance(LAG + 1)

    got = pair.west.get_object(Bucket=pair.dst, Key="dicom/s/1.dcm", ChecksumMode="ENABLED")
    assert got["Body"].read() == body
    assert got["VersionId"] == put["VersionId"]
    assert got["ChecksumSHA256"] == put["ChecksumSHA256"] == sha256_b64(body)
    assert got["ContentType"] == "application/dicom" and got["Metadata"] == {"study": "hashed"}
    assert got["StorageClass"] == "STANDARD_IA"
    assert pair.west.get_object_tagging(Bucket=pair.dst, Key="dicom/s/1.dcm")["TagSet"] == [
        {"Key": "tier", "Value": "hot"}]


def test_multipart_and_copied_objects_are_replicated(pair):
    pair.configure(make_rule(pair.dst))
    upload = pair.east.create_multipart_upload(Bucket=pair.src, Key="big.dcm")
    part = pair.east.upload_part(Bucket=pair.src, Key="big.dcm", UploadId=upload["UploadId"], PartNumber=1,
                                 Body=b"p" * 1024)
    done = pair.east.complete_multipart_upload(Bucket=pair.src, Key="big.dcm", UploadId=upload["UploadId"],
                                               MultipartUpload={"Parts": [{"ETag": part["ETag"], "PartNumber": 1}]})
    pair.east.copy_object(Bucket=pair.src, Key="copy.dcm", CopySource={"Bucket": pair.src, "Key": "big.dcm"})
    pair.advance(LAG + 1)
    assert pair.replica_versions("big.dcm") == [done["VersionId"]]
    head = pair.west.head_object(Bucket=pair.dst, Key="big.dcm")
    assert head["ETag"] == done["ETag"]
    assert len(pair.replica_versions("copy.dcm")) == 1


def test_late_landing_replica_does_not_become_current(pair):
    """Replicas keep the source's creation order: an older version landing last is not 'latest'."""
    pair.configure(make_rule(pair.dst))
    replication = pair.cloud.sim["replication"]
    replication.lag = LagDistribution({"fixed_seconds": 120})
    old = pair.east.put_object(Bucket=pair.src, Key="k", Body=b"old")["VersionId"]
    replication.lag = LagDistribution({"fixed_seconds": 10})
    new = pair.east.put_object(Bucket=pair.src, Key="k", Body=b"new")["VersionId"]
    pair.advance(200)
    assert set(pair.replica_versions("k")) == {old, new}
    current = pair.west.get_object(Bucket=pair.dst, Key="k")
    assert current["VersionId"] == new and current["Body"].read() == b"new"


# ------------------------------------------------------------------ what is in scope
def test_prefix_filter_limits_what_is_replicated(pair):
    pair.configure(make_rule(pair.dst, prefix="dicom/"))
    pair.east.put_object(Bucket=pair.src, Key="dicom/in.dcm", Body=b"1")
    pair.east.put_object(Bucket=pair.src, Key="reports/out.pdf", Body=b"2")
    assert pair.status("reports/out.pdf") is None
    pair.advance(LAG + 1)
    assert len(pair.replica_versions("dicom/in.dcm")) == 1
    assert pair.replica_versions("reports/out.pdf") == []


def test_tag_filter_and_priority_pick_the_rule(pair):
    pair.configure(
        make_rule(pair.dst, "cold", 5, tags={"tier": "cold"}, destination={"StorageClass": "GLACIER_IR"}),
        make_rule(pair.dst, "rest", 1, destination={"StorageClass": "STANDARD_IA"}),
        make_rule(pair.dst, "off", 9, status="Disabled", destination={"StorageClass": "ONEZONE_IA"}),
    )
    pair.east.put_object(Bucket=pair.src, Key="a", Body=b"1", Tagging="tier=cold")
    pair.east.put_object(Bucket=pair.src, Key="b", Body=b"2", Tagging="tier=hot")
    pair.advance(LAG + 1)
    assert pair.west.head_object(Bucket=pair.dst, Key="a")["StorageClass"] == "GLACIER_IR"
    assert pair.west.head_object(Bucket=pair.dst, Key="b")["StorageClass"] == "STANDARD_IA"


def test_tag_only_rule_skips_untagged_objects(pair):
    pair.configure(make_rule(pair.dst, tags={"replicate": "yes"}))
    pair.east.put_object(Bucket=pair.src, Key="tagged", Body=b"1", Tagging="replicate=yes")
    pair.east.put_object(Bucket=pair.src, Key="plain", Body=b"2")
    pair.advance(LAG + 1)
    assert len(pair.replica_versions("tagged")) == 1
    assert pair.replica_versions("plain") == []


def test_objects_before_the_rule_are_never_replicated(pair):
    pair.east.put_object(Bucket=pair.src, Key="early", Body=b"1")
    pair.configure(make_rule(pair.dst))
    pair.east.put_object(Bucket=pair.src, Key="late", Body=b"2")
    pair.advance(3600)
    assert pair.replica_versions("early") == []
    assert pair.status("early") is None
    assert len(pair.replica_versions("late")) == 1


def test_objects_written_while_disabled_are_not_caught_up_after_enable(pair):
    pair.configure(make_rule(pair.dst, status="Disabled"))
    pair.east.put_object(Bucket=pair.src, Key="while-disabled", Body=b"1")
    pair.advance(LAG + 1)
    pair.configure(make_rule(pair.dst, status="Enabled"))
    pair.east.put_object(Bucket=pair.src, Key="after-enable", Body=b"2")
    pair.advance(3600)
    assert pair.replica_versions("while-disabled") == []
    assert len(pair.replica_versions("after-enable")) == 1


def test_sse_kms_objects_need_sse_kms_selection_criteria(pair):
    pair.configure(make_rule(pair.dst))
    pair.east.put_object(Bucket=pair.src, Key="kms", Body=b"1", ServerSideEncryption="aws:kms",
                         SSEKMSKeyId="arn:aws:kms:us-east-1:123456789012:key/src")
    pair.east.put_object(Bucket=pair.src, Key="s3", Body=b"2", ServerSideEncryption="AES256")
    pair.advance(LAG + 1)
    assert pair.replica_versions("kms") == []
    assert pair.status("kms") is None
    assert len(pair.replica_versions("s3")) == 1
    state = pair.cloud.sim.status()["behaviours"]["replication"]["buckets"][pair.src]
    assert state["notReplicated"] == {"sseKmsWithoutCriteria": 1}


def test_sse_kms_objects_replicate_under_the_replica_key_when_selected(pair):
    replica_key = "arn:aws:kms:us-west-2:123456789012:key/mrk-replica"
    pair.configure(make_rule(pair.dst, destination={"EncryptionConfiguration": {"ReplicaKmsKeyID": replica_key}},
                             SourceSelectionCriteria={"SseKmsEncryptedObjects": {"Status": "Enabled"}}))
    pair.east.put_object(Bucket=pair.src, Key="kms", Body=b"1", ServerSideEncryption="aws:kms",
                         SSEKMSKeyId="arn:aws:kms:us-east-1:123456789012:key/src")
    pair.advance(LAG + 1)
    head = pair.west.head_object(Bucket=pair.dst, Key="kms")
    assert head["ServerSideEncryption"] == "aws:kms" and head["SSEKMSKeyId"] == replica_key


# ------------------------------------------------------------------ deletes
@pytest.mark.parametrize("enabled", [True, False])
def test_delete_marker_replicated_only_when_enabled(pair, enabled):
    pair.configure(make_rule(pair.dst, delete_markers=enabled))
    pair.east.put_object(Bucket=pair.src, Key="k", Body=b"1")
    pair.advance(LAG + 1)
    marker = pair.east.delete_object(Bucket=pair.src, Key="k")
    assert marker["DeleteMarker"]
    pair.advance(LAG + 1)
    markers = pair.west.list_object_versions(Bucket=pair.dst, Prefix="k").get("DeleteMarkers", [])
    if enabled:
        assert [(m["VersionId"], m["IsLatest"]) for m in markers] == [(marker["VersionId"], True)]
        with pytest.raises(ClientError) as err:
            pair.west.get_object(Bucket=pair.dst, Key="k")
        assert err.value.response["Error"]["Code"] == "NoSuchKey"
    else:
        assert markers == []
        assert pair.west.get_object(Bucket=pair.dst, Key="k")["Body"].read() == b"1"


def test_delete_objects_markers_follow_the_same_rule(pair):
    pair.configure(make_rule(pair.dst, delete_markers=True))
    pair.east.put_object(Bucket=pair.src, Key="k", Body=b"1")
    pair.advance(LAG + 1)
    result = pair.east.delete_objects(Bucket=pair.src, Delete={"Objects": [{"Key": "k"}]})
    pair.advance(LAG + 1)
    markers = pair.west.list_object_versions(Bucket=pair.dst, Prefix="k").get("DeleteMarkers", [])
    assert [m["VersionId"] for m in markers] == [result["Deleted"][0]["DeleteMarkerVersionId"]]


def test_delete_with_a_version_id_is_never_replicated(pair):
    pair.configure(make_rule(pair.dst, delete_markers=True))
    vid = pair.east.put_object(Bucket=pair.src, Key="k", Body=b"1")["VersionId"]
    pair.advance(LAG + 1)
    pair.east.delete_object(Bucket=pair.src, Key="k", VersionId=vid)
    pair.advance(3600)
    assert pair.replica_versions("k") == [vid]
    assert pair.west.list_object_versions(Bucket=pair.dst, Prefix="k").get("DeleteMarkers", []) == []


# ------------------------------------------------------------------ object lock and failures at the copy
def test_object_lock_retention_and_legal_hold_are_replicated(cloud_factory, bucket_name):
    pair = make_pair(cloud_factory(SimSettings(replication_lag={"fixed_seconds": LAG})), bucket_name, lock=True)
    pair.configure(make_rule(pair.dst))
    until = (datetime.now(timezone.utc) + timedelta(days=400)).replace(microsecond=0)
    pair.east.put_object(Bucket=pair.src, Key="locked", Body=b"1", ObjectLockMode="COMPLIANCE",
                         ObjectLockRetainUntilDate=until, ObjectLockLegalHoldStatus="ON")
    pair.advance(LAG + 1)
    head = pair.west.head_object(Bucket=pair.dst, Key="locked")
    assert head["ObjectLockMode"] == "COMPLIANCE"
    assert head["ObjectLockRetainUntilDate"] == until
    assert head["ObjectLockLegalHoldStatus"] == "ON"


@pytest.mark.parametrize(("kwargs", "reason"), [
    ({"lock": True, "dst_lock": False}, "DstBucketObjectLockConfigMissing"),
    ({"dst_versioned": False}, "DstBucketUnversioned"),
])
def test_unfit_destination_makes_the_source_failed(cloud_factory, bucket_name, kwargs, reason):
    pair = make_pair(cloud_factory(SimSettings(replication_lag={"fixed_seconds": LAG})), bucket_name, **kwargs)
    pair.configure(make_rule(pair.dst))
    pair.east.put_object(Bucket=pair.src, Key="k", Body=b"1")
    pair.advance(LAG + 1)
    assert pair.status("k") == "FAILED"
    assert pair.replica_versions("k") == []
    state = pair.cloud.sim.status()["behaviours"]["replication"]["buckets"][pair.src]
    assert state["failureReasons"] == {reason: 1} and state["failed"] == 1


def test_missing_destination_bucket_fails(pair):
    pair.configure(make_rule("no-such-bucket-anywhere"))
    pair.east.put_object(Bucket=pair.src, Key="k", Body=b"1")
    pair.advance(LAG + 1)
    assert pair.status("k") == "FAILED"
    assert pair.cloud.sim.status()["behaviours"]["replication"]["buckets"][pair.src]["failureReasons"] == {
        "DstBucketNotFound": 1}


# ------------------------------------------------------------------ two-way replication and metadata
def two_way(pair: Pair, *, replica_modifications: bool) -> None:
    pair.configure(make_rule(pair.dst, "to-dr"))
    back = make_rule(pair.src, "to-primary")
    if replica_modifications:
        back["SourceSelectionCriteria"] = {"ReplicaModifications": {"Status": "Enabled"}}
    pair.configure(back, bucket=pair.dst, client=pair.west)


def test_replicas_are_not_replicated_back(pair):
    two_way(pair, replica_modifications=True)
    vid = pair.east.put_object(Bucket=pair.src, Key="k", Body=b"1")["VersionId"]
    pair.advance(3600)
    assert pair.replica_versions("k") == [vid]
    versions = pair.east.list_object_versions(Bucket=pair.src, Prefix="k")["Versions"]
    assert [v["VersionId"] for v in versions] == [vid]


def test_object_written_in_the_dr_bucket_goes_back_by_its_own_rule(pair):
    two_way(pair, replica_modifications=False)
    vid = pair.west.put_object(Bucket=pair.dst, Key="written-in-dr", Body=b"1")["VersionId"]
    pair.advance(LAG + 1)
    assert pair.east.head_object(Bucket=pair.src, Key="written-in-dr")["ReplicationStatus"] == "REPLICA"
    assert pair.status("written-in-dr", vid, dst=True) == "COMPLETED"


@pytest.mark.parametrize("enabled", [True, False])
def test_replica_tag_changes_go_back_only_with_replica_modification_sync(pair, enabled):
    two_way(pair, replica_modifications=enabled)
    vid = pair.east.put_object(Bucket=pair.src, Key="k", Body=b"1", Tagging="state=new")["VersionId"]
    pair.advance(LAG + 1)
    pair.west.put_object_tagging(Bucket=pair.dst, Key="k", VersionId=vid,
                                 Tagging={"TagSet": [{"Key": "state", "Value": "checked"}]})
    pair.advance(LAG + 1)
    tags = pair.east.get_object_tagging(Bucket=pair.src, Key="k", VersionId=vid)["TagSet"]
    assert tags == [{"Key": "state", "Value": "checked" if enabled else "new"}]


def test_source_tag_changes_reach_the_replica(pair):
    pair.configure(make_rule(pair.dst))
    vid = pair.east.put_object(Bucket=pair.src, Key="k", Body=b"1", Tagging="state=new")["VersionId"]
    pair.advance(LAG + 1)
    pair.east.put_object_tagging(Bucket=pair.src, Key="k", Tagging={"TagSet": [{"Key": "state", "Value": "done"}]})
    assert pair.west.get_object_tagging(Bucket=pair.dst, Key="k", VersionId=vid)["TagSet"][0]["Value"] == "new"
    pair.advance(LAG + 1)
    assert pair.west.get_object_tagging(Bucket=pair.dst, Key="k", VersionId=vid)["TagSet"][0]["Value"] == "done"


# ------------------------------------------------------------------ the simulation's own writes
def test_internal_writes_are_not_source_events(pair):
    """Writes the simulation makes as AWS itself (restores, lifecycle) are not replicated."""
    pair.configure(make_rule(pair.dst))
    internal = pair.cloud.sim.internal_client("s3", "us-east-1")
    internal.put_object(Bucket=pair.src, Key="internal", Body=b"1")
    pair.advance(3600)
    assert pair.replica_versions("internal") == []
    assert pair.status("internal") is None


def test_reset_forgets_pending_copies(pair):
    pair.configure(make_rule(pair.dst))
    pair.east.put_object(Bucket=pair.src, Key="k", Body=b"1")
    pair.cloud.sim["replication"].reset()
    pair.advance(3600)
    assert pair.replica_versions("k") == []
    assert pair.cloud.sim.status()["behaviours"]["replication"]["buckets"] == {}
