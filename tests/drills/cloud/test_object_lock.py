"""Object Lock as AWS enforces it (drills.cloud.sim.object_lock), on the embedded cloud."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from botocore.exceptions import ClientError

from drills.cloud.clock import VirtualClock
from drills.cloud.server import EmbeddedCloud

DAY = timedelta(days=1)


def _code(exc_info: pytest.ExceptionInfo[ClientError]) -> str:
    return exc_info.value.response["Error"]["Code"]


def _locked_bucket(s3, name: str, mode: str | None = None, days: int = 1) -> str:
    s3.create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
    if mode:
        s3.put_object_lock_configuration(Bucket=name, ObjectLockConfiguration={
            "ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": mode, "Days": days}}})
    return name


def _put_locked(s3, bucket: str, until: datetime, mode: str, key: str = "dicom/1.2.3/a.dcm") -> str:
    return s3.put_object(Bucket=bucket, Key=key, Body=b"DICM", ObjectLockMode=mode,
                         ObjectLockRetainUntilDate=until)["VersionId"]


def _exists(s3, bucket: str, key: str, version_id: str) -> bool:
    versions = s3.list_object_versions(Bucket=bucket, Prefix=key).get("Versions", [])
    return any(v["VersionId"] == version_id for v in versions)


def _retention(s3, bucket: str, key: str, version_id: str) -> tuple[str, datetime]:
    ret = s3.get_object_retention(Bucket=bucket, Key=key, VersionId=version_id)["Retention"]
    return ret["Mode"], ret["RetainUntilDate"]


@pytest.fixture
def locked(cloud, s3, bucket_name):
    """(bucket, key, version_id, retain_until) of a version under COMPLIANCE for 10 virtual days."""
    bucket = _locked_bucket(s3, bucket_name("lock"))
    until = (cloud.clock.now() + 10 * DAY).replace(microsecond=0)
    key = "dicom/1.2.3/a.dcm"
    return bucket, key, _put_locked(s3, bucket, until, "COMPLIANCE", key), until


@pytest.fixture
def governed(cloud, s3, bucket_name):
    """(bucket, key, version_id, retain_until) of a version under GOVERNANCE for 10 virtual days."""
    bucket = _locked_bucket(s3, bucket_name("gov"))
    until = (cloud.clock.now() + 10 * DAY).replace(microsecond=0)
    key = "dicom/1.2.3/g.dcm"
    return bucket, key, _put_locked(s3, bucket, until, "GOVERNANCE", key), until


# ---------------------------------------------------------------- COMPLIANCE retention
def test_compliance_retention_cannot_be_shortened(s3, locked):
    bucket, key, vid, until = locked
    with pytest.raises(ClientError) as err:
        s3.put_object_retention(Bucket=bucket, Key=key, VersionId=vid,
                                Retention={"Mode": "COMPLIANCE", "RetainUntilDate": until - DAY})
    assert _code(err) == "AccessDenied"
    assert _retention(s3, bucket, key, vid) == ("COMPLIANCE", until)
    assert _exists(s3, bucket, key, vid)


def test_compliance_cannot_become_governance_even_with_bypass(s3, locked):
    bucket, key, vid, until = locked
    with pytest.raises(ClientError) as err:
        s3.put_object_retention(Bucket=bucket, Key=key, VersionId=vid, BypassGovernanceRetention=True,
                                Retention={"Mode": "GOVERNANCE", "RetainUntilDate": until + DAY})
    assert _code(err) == "AccessDenied"
    assert _retention(s3, bucket, key, vid) == ("COMPLIANCE", until)


def test_compliance_retention_can_be_extended(s3, locked):
    bucket, key, vid, until = locked
    s3.put_object_retention(Bucket=bucket, Key=key, VersionId=vid,
                            Retention={"Mode": "COMPLIANCE", "RetainUntilDate": until + 30 * DAY})
    assert _retention(s3, bucket, key, vid) == ("COMPLIANCE", until + 30 * DAY)
    head = s3.head_object(Bucket=bucket, Key=key, VersionId=vid)
    assert head["ObjectLockMode"] == "COMPLIANCE"
    assert head["ObjectLockRetainUntilDate"] == until + 30 * DAY


def test_versioned_delete_under_compliance_refused_even_with_bypass(s3, locked):
    bucket, key, vid, _ = locked
    for bypass in (False, True):
        with pytest.raises(ClientError) as err:
            s3.delete_object(Bucket=bucket, Key=key, VersionId=vid, BypassGovernanceRetention=bypass)
        assert _code(err) == "AccessDenied"
    assert _exists(s3, bucket, key, vid)


def test_delete_allowed_once_virtual_clock_passes_retain_until(cloud, s3, locked):
    bucket, key, vid, until = locked
    with pytest.raises(ClientError) as err:
        s3.delete_object(Bucket=bucket, Key=key, VersionId=vid)
    assert _code(err) == "AccessDenied"
    cloud.clock.advance(until - cloud.clock.now() + timedelta(seconds=1))
    # Wall time is still before retain-until: only the virtual clock makes this delete legal.
    assert datetime.now(timezone.utc) < until
    s3.delete_object(Bucket=bucket, Key=key, VersionId=vid)
    assert not _exists(s3, bucket, key, vid)


def test_virtual_clock_not_wall_time_decides_a_lock(bucket_name) -> None:
    """A retention that wall time has passed still holds while the virtual clock is before it.
    The cloud's virtual clock starts an hour behind wall time, so no real time has to pass."""
    wall = datetime.now(timezone.utc)
    embedded = EmbeddedCloud()
    embedded.sim.clock = VirtualClock(start=wall - timedelta(hours=1))
    with embedded as cloud:
        s3 = cloud.target.client("s3", "us-east-1")
        bucket = _locked_bucket(s3, bucket_name("lock"))
        until = (wall - timedelta(minutes=1)).replace(microsecond=0)     # already past in wall time
        vid = _put_locked(s3, bucket, until, "COMPLIANCE")
        assert datetime.now(timezone.utc) > until and cloud.clock.now() < until
        with pytest.raises(ClientError) as err:
            s3.delete_object(Bucket=bucket, Key="dicom/1.2.3/a.dcm", VersionId=vid)
        assert _code(err) == "AccessDenied"
        assert _exists(s3, bucket, "dicom/1.2.3/a.dcm", vid)
        cloud.clock.advance(until - cloud.clock.now() + timedelta(seconds=1))
        s3.delete_object(Bucket=bucket, Key="dicom/1.2.3/a.dcm", VersionId=vid)
        assert not _exists(s3, bucket, "dicom/1.2.3/a.dcm", vid)


def test_unversioned_delete_adds_marker_and_locked_version_survives(s3, locked):
    bucket, key, vid, _ = locked
    resp = s3.delete_object(Bucket=bucket, Key=key)
    assert resp["DeleteMarker"] is True
    listing = s3.list_object_versions(Bucket=bucket, Prefix=key)
    assert [m["Key"] for m in listing.get("DeleteMarkers", [])] == [key]
    assert _exists(s3, bucket, key, vid)
    assert s3.get_object(Bucket=bucket, Key=key, VersionId=vid)["Body"].read() == b"DICM"


def test_bucket_with_locked_versions_cannot_be_deleted(s3, locked):
    bucket, key, vid, _ = locked
    s3.delete_object(Bucket=bucket, Key=key)
    with pytest.raises(ClientError) as err:
        s3.delete_bucket(Bucket=bucket)
    assert _code(err) == "BucketNotEmpty"
    assert _exists(s3, bucket, key, vid)


# ---------------------------------------------------------------- GOVERNANCE retention
def test_governance_delete_needs_bypass_header(s3, governed):
    bucket, key, vid, _ = governed
    with pytest.raises(ClientError) as err:
        s3.delete_object(Bucket=bucket, Key=key, VersionId=vid, BypassGovernanceRetention=False)
    assert _code(err) == "AccessDenied"
    assert _exists(s3, bucket, key, vid)
    with pytest.raises(ClientError) as err:
        s3.delete_object(Bucket=bucket, Key=key, VersionId=vid)
    assert _code(err) == "AccessDenied"
    assert _exists(s3, bucket, key, vid)
    s3.delete_object(Bucket=bucket, Key=key, VersionId=vid, BypassGovernanceRetention=True)
    assert not _exists(s3, bucket, key, vid)


def test_governance_shortening_needs_bypass_header(s3, governed):
    bucket, key, vid, until = governed
    shorter = {"Mode": "GOVERNANCE", "RetainUntilDate": until - DAY}
    with pytest.raises(ClientError) as err:
        s3.put_object_retention(Bucket=bucket, Key=key, VersionId=vid, Retention=shorter)
    assert _code(err) == "AccessDenied"
    assert _retention(s3, bucket, key, vid) == ("GOVERNANCE", until)
    s3.put_object_retention(Bucket=bucket, Key=key, VersionId=vid, Retention=shorter,
                            BypassGovernanceRetention=True)
    assert _retention(s3, bucket, key, vid) == ("GOVERNANCE", until - DAY)


def test_governance_can_be_raised_to_compliance_without_bypass(s3, governed):
    bucket, key, vid, until = governed
    s3.put_object_retention(Bucket=bucket, Key=key, VersionId=vid,
                            Retention={"Mode": "COMPLIANCE", "RetainUntilDate": until})
    assert _retention(s3, bucket, key, vid) == ("COMPLIANCE", until)


# ---------------------------------------------------------------- legal hold
def test_legal_hold_blocks_versioned_delete_until_released(s3, bucket_name):
    bucket = _locked_bucket(s3, bucket_name("hold"))
    vid = s3.put_object(Bucket=bucket, Key="k", Body=b"x", ObjectLockLegalHoldStatus="ON")["VersionId"]
    assert s3.head_object(Bucket=bucket, Key="k", VersionId=vid)["ObjectLockLegalHoldStatus"] == "ON"
    with pytest.raises(ClientError) as err:
        s3.delete_object(Bucket=bucket, Key="k", VersionId=vid, BypassGovernanceRetention=True)
    assert _code(err) == "AccessDenied"
    assert _exists(s3, bucket, "k", vid)
    assert s3.get_object_legal_hold(Bucket=bucket, Key="k", VersionId=vid)["LegalHold"]["Status"] == "ON"
    s3.put_object_legal_hold(Bucket=bucket, Key="k", VersionId=vid, LegalHold={"Status": "OFF"})
    s3.delete_object(Bucket=bucket, Key="k", VersionId=vid)
    assert not _exists(s3, bucket, "k", vid)


def test_legal_hold_on_missing_key_is_nosuchkey(s3, bucket_name):
    bucket = _locked_bucket(s3, bucket_name("hold"))
    with pytest.raises(ClientError) as err:
        s3.put_object_legal_hold(Bucket=bucket, Key="absent", LegalHold={"Status": "ON"})
    assert _code(err) == "NoSuchKey"


# ---------------------------------------------------------------- reads
def test_get_object_retention_and_missing_configuration(cloud, s3, bucket_name):
    bucket = _locked_bucket(s3, bucket_name("read"))
    plain = s3.put_object(Bucket=bucket, Key="plain", Body=b"x")["VersionId"]
    with pytest.raises(ClientError) as err:
        s3.get_object_retention(Bucket=bucket, Key="plain", VersionId=plain)
    assert _code(err) == "NoSuchObjectLockConfiguration"
    until = (cloud.clock.now() + 3 * DAY).replace(microsecond=0)
    vid = _put_locked(s3, bucket, until, "GOVERNANCE", key="held")
    assert _retention(s3, bucket, "held", vid) == ("GOVERNANCE", until)
    current = s3.get_object_retention(Bucket=bucket, Key="held")
    assert current["Retention"]["Mode"] == "GOVERNANCE"


def test_get_object_retention_on_bucket_without_lock(s3, bucket_name):
    bucket = bucket_name("nolock")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    with pytest.raises(ClientError) as err:
        s3.get_object_retention(Bucket=bucket, Key="k")
    assert _code(err) == "InvalidRequest"


# ---------------------------------------------------------------- DeleteObjects
def test_delete_objects_refuses_locked_entries_only(cloud, s3, bucket_name):
    bucket = _locked_bucket(s3, bucket_name("batch"))
    until = cloud.clock.now() + 5 * DAY
    locked_vid = _put_locked(s3, bucket, until, "COMPLIANCE", key="locked")
    free_vid = s3.put_object(Bucket=bucket, Key="free", Body=b"x")["VersionId"]
    resp = s3.delete_objects(Bucket=bucket, BypassGovernanceRetention=True, Delete={"Objects": [
        {"Key": "locked", "VersionId": locked_vid}, {"Key": "free", "VersionId": free_vid}]})
    assert [(e["Key"], e["Code"]) for e in resp.get("Errors", [])] == [("locked", "AccessDenied")]
    assert [d["Key"] for d in resp.get("Deleted", [])] == ["free"]
    assert _exists(s3, bucket, "locked", locked_vid)
    assert not _exists(s3, bucket, "free", free_vid)
    # the refusal did not leave a legal hold behind
    assert "ObjectLockLegalHoldStatus" not in s3.head_object(Bucket=bucket, Key="locked", VersionId=locked_vid)


def test_delete_objects_follows_the_virtual_clock(cloud, s3, governed):
    bucket, key, vid, until = governed
    resp = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": key, "VersionId": vid}]})
    assert [e["Code"] for e in resp.get("Errors", [])] == ["AccessDenied"]
    assert _exists(s3, bucket, key, vid)
    cloud.clock.advance(until - cloud.clock.now() + timedelta(minutes=1))
    resp = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": key, "VersionId": vid}]})
    assert resp.get("Errors", []) == []
    assert not _exists(s3, bucket, key, vid)


# ---------------------------------------------------------------- writes with lock headers
def test_lock_headers_need_an_object_lock_bucket(cloud, s3, bucket_name):
    bucket = bucket_name("nolock")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="src", Body=b"x")
    until = cloud.clock.now() + DAY
    with pytest.raises(ClientError) as err:
        s3.put_object(Bucket=bucket, Key="k", Body=b"x", ObjectLockMode="GOVERNANCE", ObjectLockRetainUntilDate=until)
    assert _code(err) == "InvalidRequest"
    with pytest.raises(ClientError) as err:
        s3.copy_object(Bucket=bucket, Key="copy", CopySource={"Bucket": bucket, "Key": "src"},
                       ObjectLockMode="COMPLIANCE", ObjectLockRetainUntilDate=until)
    assert _code(err) == "InvalidRequest"
    assert "copy" not in [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]


def test_retain_until_must_be_in_the_virtual_future(cloud, s3, bucket_name):
    bucket = _locked_bucket(s3, bucket_name("past"))
    cloud.clock.advance(timedelta(days=30))
    past = cloud.clock.now() - DAY          # still after wall-clock now
    with pytest.raises(ClientError) as err:
        s3.put_object(Bucket=bucket, Key="k", Body=b"x", ObjectLockMode="COMPLIANCE", ObjectLockRetainUntilDate=past)
    assert _code(err) == "InvalidArgument"
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)


def test_default_retention_counts_from_virtual_now(cloud, s3, bucket_name):
    bucket = _locked_bucket(s3, bucket_name("default"), mode="COMPLIANCE", days=1)
    cloud.clock.advance(timedelta(days=100))
    vid = s3.put_object(Bucket=bucket, Key="k", Body=b"x")["VersionId"]
    head = s3.head_object(Bucket=bucket, Key="k", VersionId=vid)
    assert head["ObjectLockMode"] == "COMPLIANCE"
    expected = cloud.clock.now() + DAY
    assert abs((head["ObjectLockRetainUntilDate"] - expected).total_seconds()) < 5
    with pytest.raises(ClientError) as err:
        s3.delete_object(Bucket=bucket, Key="k", VersionId=vid)
    assert _code(err) == "AccessDenied"


def test_multipart_upload_gets_default_retention(cloud, s3, bucket_name):
    bucket = _locked_bucket(s3, bucket_name("mpu"), mode="GOVERNANCE", days=2)
    upload = s3.create_multipart_upload(Bucket=bucket, Key="big", ChecksumAlgorithm="SHA256")
    part = s3.upload_part(Bucket=bucket, Key="big", UploadId=upload["UploadId"], PartNumber=1, Body=b"x" * 1024,
                          ChecksumAlgorithm="SHA256")
    done = s3.complete_multipart_upload(Bucket=bucket, Key="big", UploadId=upload["UploadId"], MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": part["ETag"], "ChecksumSHA256": part["ChecksumSHA256"]}]})
    mode, until = _retention(s3, bucket, "big", done["VersionId"])
    assert mode == "GOVERNANCE"
    assert abs((until - (cloud.clock.now() + 2 * DAY)).total_seconds()) < 5
    with pytest.raises(ClientError) as err:
        s3.delete_object(Bucket=bucket, Key="big", VersionId=done["VersionId"])
    assert _code(err) == "AccessDenied"


def test_multipart_upload_keeps_explicit_lock_headers(cloud, s3, bucket_name):
    bucket = _locked_bucket(s3, bucket_name("mpu"))
    until = (cloud.clock.now() + 7 * DAY).replace(microsecond=0)
    upload = s3.create_multipart_upload(Bucket=bucket, Key="big", ObjectLockMode="COMPLIANCE",
                                        ObjectLockRetainUntilDate=until, ObjectLockLegalHoldStatus="ON")
    part = s3.upload_part(Bucket=bucket, Key="big", UploadId=upload["UploadId"], PartNumber=1, Body=b"y" * 1024)
    done = s3.complete_multipart_upload(Bucket=bucket, Key="big", UploadId=upload["UploadId"],
                                        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]})
    head = s3.head_object(Bucket=bucket, Key="big", VersionId=done["VersionId"])
    assert (head["ObjectLockMode"], head["ObjectLockRetainUntilDate"]) == ("COMPLIANCE", until)
    assert head["ObjectLockLegalHoldStatus"] == "ON"


def test_versioning_cannot_be_suspended_on_a_lock_bucket(s3, bucket_name):
    bucket = _locked_bucket(s3, bucket_name("ver"))
    with pytest.raises(ClientError) as err:
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})
    assert _code(err) == "InvalidBucketState"
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"


def test_refusals_are_counted_in_status(cloud, s3, locked):
    bucket, key, vid, _ = locked
    with pytest.raises(ClientError):
        s3.delete_object(Bucket=bucket, Key=key, VersionId=vid)
    assert cloud.sim.status()["behaviours"]["object_lock"]["refusals"] == {"DeleteObject:AccessDenied": 1}
