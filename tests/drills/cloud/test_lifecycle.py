"""Lifecycle rules run as virtual days pass (drills.cloud.sim.lifecycle)."""

from __future__ import annotations

import json
import urllib.request
from datetime import timedelta

import pytest
from botocore.exceptions import ClientError

from drills.cloud.sim.lifecycle import ceil_midnight
from drills.contracts import SPECIALTY_TAG

BIG = b"d" * (200 * 1024)      # above the 128 KB default transition minimum
SMALL = b"s" * 1024


def _storage_class(s3, bucket: str, key: str, version_id: str | None = None) -> str:
    kwargs = {"VersionId": version_id} if version_id else {}
    return s3.head_object(Bucket=bucket, Key=key, **kwargs).get("StorageClass", "STANDARD")


def _versioned_bucket(s3, name: str, *, lock: bool = False) -> str:
    if lock:
        s3.create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
    else:
        s3.create_bucket(Bucket=name)
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return name


def _lifecycle(s3, bucket: str, *rules: dict, min_size: str | None = None) -> None:
    kwargs = {"TransitionDefaultMinimumObjectSize": min_size} if min_size else {}
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": list(rules)}, **kwargs)


def test_transition_happens_at_the_rounded_day_not_before(cloud, s3, bucket_name):
    bucket = bucket_name()
    s3.create_bucket(Bucket=bucket)
    _lifecycle(s3, bucket, {"ID": "ia", "Status": "Enabled", "Filter": {"Prefix": "dicom/"},
                            "Transitions": [{"Days": 30, "StorageClass": "STANDARD_IA"}]})
    s3.put_object(Bucket=bucket, Key="dicom/a.dcm", Body=BIG)
    s3.put_object(Bucket=bucket, Key="other/b.dcm", Body=BIG)
    due = ceil_midnight(cloud.clock.now() + timedelta(days=30))

    cloud.clock.advance_to(due - timedelta(seconds=1))
    assert _storage_class(s3, bucket, "dicom/a.dcm") == "STANDARD"

    cloud.clock.advance(2)
    assert _storage_class(s3, bucket, "dicom/a.dcm") == "STANDARD_IA"
    assert _storage_class(s3, bucket, "other/b.dcm") == "STANDARD"      # prefix filter
    listed = s3.list_objects_v2(Bucket=bucket, Prefix="dicom/")["Contents"]
    assert listed[0]["StorageClass"] == "STANDARD_IA"


def test_deepest_due_transition_wins_and_classes_never_move_up(cloud, s3, bucket_name):
    bucket = bucket_name()
    s3.create_bucket(Bucket=bucket)
    _lifecycle(s3, bucket, {"ID": "tiers", "Status": "Enabled", "Filter": {},
                            "Transitions": [{"Days": 30, "StorageClass": "STANDARD_IA"},
                                            {"Days": 90, "StorageClass": "GLACIER"}]})
    s3.put_object(Bucket=bucket, Key="a", Body=BIG)
    s3.put_object(Bucket=bucket, Key="deep", Body=BIG, StorageClass="DEEP_ARCHIVE")
    cloud.clock.advance(timedelta(days=45))
    assert _storage_class(s3, bucket, "a") == "STANDARD_IA"
    cloud.clock.advance(timedelta(days=50))
    assert _storage_class(s3, bucket, "a") == "GLACIER"
    assert _storage_class(s3, bucket, "deep") == "DEEP_ARCHIVE"


def test_objects_under_128k_are_not_transitioned_by_default(cloud, s3, bucket_name):
    bucket = bucket_name()
    s3.create_bucket(Bucket=bucket)
    _lifecycle(s3, bucket, {"ID": "g", "Status": "Enabled", "Filter": {"Prefix": ""},
                            "Transitions": [{"Days": 1, "StorageClass": "GLACIER"}]})
    s3.put_object(Bucket=bucket, Key="small", Body=SMALL)
    s3.put_object(Bucket=bucket, Key="edge", Body=b"e" * (128 * 1024))
    s3.put_object(Bucket=bucket, Key="big", Body=BIG)
    cloud.clock.advance(timedelta(days=3))
    assert _storage_class(s3, bucket, "small") == "STANDARD"
    assert _storage_class(s3, bucket, "edge") == "GLACIER"
    assert _storage_class(s3, bucket, "big") == "GLACIER"


def test_a_size_filter_overrides_the_128k_default(cloud, s3, bucket_name):
    bucket = bucket_name()
    s3.create_bucket(Bucket=bucket)
    _lifecycle(s3, bucket, {"ID": "g", "Status": "Enabled", "Filter": {"ObjectSizeGreaterThan": 100},
                            "Transitions": [{"Days": 1, "StorageClass": "STANDARD_IA"}]})
    s3.put_object(Bucket=bucket, Key="small", Body=SMALL)
    s3.put_object(Bucket=bucket, Key="tiny", Body=b"t" * 50)
    cloud.clock.advance(timedelta(days=3))
    assert _storage_class(s3, bucket, "small") == "STANDARD_IA"
    assert _storage_class(s3, bucket, "tiny") == "STANDARD"        # not > 100 bytes


def test_varies_by_storage_class_lets_small_objects_reach_glacier_only(cloud, s3, bucket_name):
    bucket = bucket_name()
    s3.create_bucket(Bucket=bucket)
    _lifecycle(s3, bucket,
               {"ID": "ia", "Status": "Enabled", "Filter": {"Prefix": "ia/"},
                "Transitions": [{"Days": 30, "StorageClass": "STANDARD_IA"}]},
               {"ID": "g", "Status": "Enabled", "Filter": {"Prefix": "g/"},
                "Transitions": [{"Days": 30, "StorageClass": "GLACIER"}]},
               min_size="varies_by_storage_class")
    s3.put_object(Bucket=bucket, Key="ia/x", Body=SMALL)
    s3.put_object(Bucket=bucket, Key="g/x", Body=SMALL)
    cloud.clock.advance(timedelta(days=32))
    assert _storage_class(s3, bucket, "ia/x") == "STANDARD"
    assert _storage_class(s3, bucket, "g/x") == "GLACIER"


def test_tag_filtered_tier_rule(cloud, s3, bucket_name):
    bucket = bucket_name()
    s3.create_bucket(Bucket=bucket)
    _lifecycle(s3, bucket, {"ID": "pathology", "Status": "Enabled",
                            "Filter": {"And": {"Prefix": "dicom/",
                                               "Tags": [{"Key": SPECIALTY_TAG, "Value": "pathology"}]}},
                            "Transitions": [{"Days": 7, "StorageClass": "DEEP_ARCHIVE"}]})
    s3.put_object(Bucket=bucket, Key="dicom/slide", Body=BIG, Tagging=f"{SPECIALTY_TAG}=pathology")
    s3.put_object(Bucket=bucket, Key="dicom/ct", Body=BIG, Tagging=f"{SPECIALTY_TAG}=radiology")
    s3.put_object(Bucket=bucket, Key="dicom/none", Body=BIG)
    cloud.clock.advance(timedelta(days=9))
    assert _storage_class(s3, bucket, "dicom/slide") == "DEEP_ARCHIVE"
    assert _storage_class(s3, bucket, "dicom/ct") == "STANDARD"
    assert _storage_class(s3, bucket, "dicom/none") == "STANDARD"


def test_disabled_rule_does_nothing(cloud, s3, bucket_name):
    bucket = bucket_name()
    s3.create_bucket(Bucket=bucket)
    _lifecycle(s3, bucket, {"ID": "off", "Status": "Disabled", "Filter": {},
                            "Transitions": [{"Days": 1, "StorageClass": "GLACIER"}]})
    s3.put_object(Bucket=bucket, Key="a", Body=BIG)
    cloud.clock.advance(timedelta(days=5))
    assert _storage_class(s3, bucket, "a") == "STANDARD"


def test_deleted_lifecycle_configuration_stops_applying(cloud, s3, bucket_name):
    bucket = bucket_name()
    s3.create_bucket(Bucket=bucket)
    _lifecycle(s3, bucket, {"ID": "g", "Status": "Enabled", "Filter": {},
                            "Transitions": [{"Days": 10, "StorageClass": "GLACIER"}]})
    s3.put_object(Bucket=bucket, Key="a", Body=BIG)
    s3.delete_bucket_lifecycle(Bucket=bucket)
    cloud.clock.advance(timedelta(days=12))
    assert _storage_class(s3, bucket, "a") == "STANDARD"


def test_noncurrent_expiration_counts_from_when_the_version_became_noncurrent(cloud, s3, bucket_name):
    bucket = _versioned_bucket(s3, bucket_name())
    _lifecycle(s3, bucket, {"ID": "nce", "Status": "Enabled", "Filter": {},
                            "NoncurrentVersionExpiration": {"NoncurrentDays": 7}})
    v1 = s3.put_object(Bucket=bucket, Key="k", Body=b"one")["VersionId"]
    cloud.clock.advance(timedelta(days=5))
    v2 = s3.put_object(Bucket=bucket, Key="k", Body=b"two")["VersionId"]

    cloud.clock.advance(timedelta(days=5))          # v1 is 10 days old but noncurrent for only 5
    versions = [v["VersionId"] for v in s3.list_object_versions(Bucket=bucket)["Versions"]]
    assert set(versions) == {v1, v2}

    cloud.clock.advance(timedelta(days=4))
    versions = [v["VersionId"] for v in s3.list_object_versions(Bucket=bucket)["Versions"]]
    assert versions == [v2]


def test_newer_noncurrent_versions_are_retained(cloud, s3, bucket_name):
    bucket = _versioned_bucket(s3, bucket_name())
    _lifecycle(s3, bucket, {"ID": "nce", "Status": "Enabled", "Filter": {},
                            "NoncurrentVersionExpiration": {"NoncurrentDays": 1, "NewerNoncurrentVersions": 1}})
    ids = [s3.put_object(Bucket=bucket, Key="k", Body=str(i).encode())["VersionId"] for i in range(3)]
    cloud.clock.advance(timedelta(days=3))
    remaining = {v["VersionId"] for v in s3.list_object_versions(Bucket=bucket)["Versions"]}
    assert remaining == {ids[1], ids[2]}


def test_noncurrent_transition(cloud, s3, bucket_name):
    bucket = _versioned_bucket(s3, bucket_name())
    _lifecycle(s3, bucket, {"ID": "nct", "Status": "Enabled", "Filter": {},
                            "NoncurrentVersionTransitions": [{"NoncurrentDays": 30, "StorageClass": "GLACIER"}]})
    v1 = s3.put_object(Bucket=bucket, Key="k", Body=BIG)["VersionId"]
    v2 = s3.put_object(Bucket=bucket, Key="k", Body=BIG)["VersionId"]
    cloud.clock.advance(timedelta(days=32))
    assert _storage_class(s3, bucket, "k", v1) == "GLACIER"
    assert _storage_class(s3, bucket, "k", v2) == "STANDARD"


def test_locked_noncurrent_version_is_not_expired_until_retention_ends(cloud, s3, bucket_name):
    bucket = _versioned_bucket(s3, bucket_name(), lock=True)
    _lifecycle(s3, bucket, {"ID": "nce", "Status": "Enabled", "Filter": {},
                            "NoncurrentVersionExpiration": {"NoncurrentDays": 1}})
    until = cloud.clock.now() + timedelta(days=20)
    v1 = s3.put_object(Bucket=bucket, Key="k", Body=b"one", ObjectLockMode="COMPLIANCE",
                       ObjectLockRetainUntilDate=until)["VersionId"]
    held = s3.put_object(Bucket=bucket, Key="h", Body=b"one", ObjectLockLegalHoldStatus="ON")["VersionId"]
    s3.put_object(Bucket=bucket, Key="k", Body=b"two")
    s3.put_object(Bucket=bucket, Key="h", Body=b"two")

    cloud.clock.advance(timedelta(days=5))
    remaining = {v["VersionId"] for v in s3.list_object_versions(Bucket=bucket)["Versions"]}
    assert {v1, held} <= remaining
    assert cloud.sim["lifecycle"].status()["actions"]["noncurrent-expiration:skipped-locked"] >= 2

    cloud.clock.advance(timedelta(days=17))          # retention over (virtual time); hold stays
    remaining = {v["VersionId"] for v in s3.list_object_versions(Bucket=bucket)["Versions"]}
    assert v1 not in remaining
    assert held in remaining


def test_current_expiration_adds_a_lifecycle_delete_marker(cloud, s3, bucket_name):
    bucket = _versioned_bucket(s3, bucket_name())
    _lifecycle(s3, bucket, {"ID": "exp", "Status": "Enabled", "Filter": {"Prefix": "tmp/"},
                            "Expiration": {"Days": 2}})
    v1 = s3.put_object(Bucket=bucket, Key="tmp/a", Body=b"x")["VersionId"]
    s3.put_object(Bucket=bucket, Key="keep/a", Body=b"x")
    s3.put_object(Bucket=bucket, Key="tmp/client", Body=b"x")
    client_marker = s3.delete_object(Bucket=bucket, Key="tmp/client")["VersionId"]

    cloud.clock.advance(timedelta(days=3))
    listing = s3.list_object_versions(Bucket=bucket)
    markers = {m["Key"]: m["VersionId"] for m in listing.get("DeleteMarkers", []) if m["IsLatest"]}
    assert "tmp/a" in markers and "keep/a" not in markers
    assert v1 in {v["VersionId"] for v in listing["Versions"]}       # the data stays as noncurrent
    with pytest.raises(ClientError) as err:
        s3.head_object(Bucket=bucket, Key="tmp/a")
    assert err.value.response["Error"]["Code"] == "404"
    lifecycle = cloud.sim["lifecycle"]
    assert lifecycle.is_lifecycle_delete_marker(bucket, "tmp/a", markers["tmp/a"])
    assert not lifecycle.is_lifecycle_delete_marker(bucket, "tmp/client", client_marker)


def test_expiration_deletes_in_an_unversioned_bucket(cloud, s3, bucket_name):
    bucket = bucket_name()
    s3.create_bucket(Bucket=bucket)
    _lifecycle(s3, bucket, {"ID": "exp", "Status": "Enabled", "Filter": {}, "Expiration": {"Days": 1}})
    s3.put_object(Bucket=bucket, Key="a", Body=b"x")
    cloud.clock.advance(timedelta(days=2))
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_expired_object_delete_marker_is_removed(cloud, s3, bucket_name):
    bucket = _versioned_bucket(s3, bucket_name())
    _lifecycle(s3, bucket,
               {"ID": "nce", "Status": "Enabled", "Filter": {}, "NoncurrentVersionExpiration": {"NoncurrentDays": 1}},
               {"ID": "eodm", "Status": "Enabled", "Filter": {}, "Expiration": {"ExpiredObjectDeleteMarker": True}})
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    s3.delete_object(Bucket=bucket, Key="k")
    cloud.clock.advance(timedelta(days=3))        # day 2 expires the version, the next day the marker
    listing = s3.list_object_versions(Bucket=bucket)
    assert not listing.get("Versions") and not listing.get("DeleteMarkers")


def test_abort_incomplete_multipart_upload(cloud, s3, bucket_name):
    bucket = bucket_name()
    s3.create_bucket(Bucket=bucket)
    _lifecycle(s3, bucket, {"ID": "mpu", "Status": "Enabled", "Filter": {"Prefix": ""},
                            "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 2}})
    upload = s3.create_multipart_upload(Bucket=bucket, Key="big.dcm")["UploadId"]
    s3.upload_part(Bucket=bucket, Key="big.dcm", UploadId=upload, PartNumber=1, Body=b"p" * 1024)
    due = ceil_midnight(cloud.clock.now() + timedelta(days=2))

    cloud.clock.advance_to(due - timedelta(minutes=1))
    assert [u["UploadId"] for u in s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])] == [upload]
    cloud.clock.advance(timedelta(minutes=2))
    assert not s3.list_multipart_uploads(Bucket=bucket).get("Uploads")


def test_control_evaluate_and_status(cloud, s3, bucket_name):
    bucket = bucket_name()
    s3.create_bucket(Bucket=bucket)
    today = cloud.clock.now().replace(hour=0, minute=0, second=0, microsecond=0)
    _lifecycle(s3, bucket, {"ID": "g", "Status": "Enabled", "Filter": {},
                            "Transitions": [{"Date": today, "StorageClass": "GLACIER_IR"}]})
    s3.put_object(Bucket=bucket, Key="a", Body=BIG)
    s3.put_object(Bucket=bucket, Key="b", Body=BIG)
    request = urllib.request.Request(f"{cloud.endpoint}/_drkit/lifecycle/evaluate", data=b"{}", method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        result = json.load(response)
    assert result["actions"] == {"transition:GLACIER_IR": 2}
    assert result["label"] == "simulated"
    status = cloud.sim.status()["behaviours"]["lifecycle"]
    assert status["objectsByStorageClass"][bucket] == {"GLACIER_IR": 2}
    assert bucket in status["bucketsWithLifecycle"]


def test_daily_evaluation_is_scheduled_only_while_a_bucket_has_lifecycle_rules(cloud, s3, bucket_name):
    def daily() -> list[str]:
        return [label for _, label in cloud.clock.pending() if label == "lifecycle: daily evaluation"]

    assert daily() == []
    bucket = bucket_name()
    s3.create_bucket(Bucket=bucket)
    _lifecycle(s3, bucket, {"ID": "g", "Status": "Enabled", "Filter": {},
                            "Transitions": [{"Days": 30, "StorageClass": "GLACIER"}]})
    assert daily() == ["lifecycle: daily evaluation"]
    cloud.clock.advance(timedelta(days=2))
    assert daily() == ["lifecycle: daily evaluation"]
    s3.delete_bucket_lifecycle(Bucket=bucket)
    cloud.clock.advance(timedelta(days=2))
    assert daily() == []


def test_reset_forgets_state(cloud, s3, bucket_name):
    bucket = bucket_name()
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="a", Body=b"x", StorageClass="GLACIER")
    s3.restore_object(Bucket=bucket, Key="a", RestoreRequest={"Days": 1})
    lifecycle = cloud.sim["lifecycle"]
    assert lifecycle.created_at(bucket, "a", "null") is not None
    lifecycle.reset()
    assert lifecycle.created_at(bucket, "a", "null") is None
    assert lifecycle.status()["restoresInFlight"] == []
    assert not [label for _, label in cloud.clock.pending() if label.startswith("s3 restore")]
