"""Glacier / Deep Archive restores that take their tier's time (drills.cloud.sim.lifecycle)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from botocore.exceptions import ClientError

from drills.cloud.sim.lifecycle import ceil_midnight
from drills.cloud.simulation import SimSettings

BODY = b"archived pixel data" * 100


def _code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return exc.value.response["Error"]["Code"]


def _archived(s3, bucket: str, key: str, storage_class: str) -> None:
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key=key, Body=BODY, StorageClass=storage_class)


def _in_flight(cloud) -> list[dict]:
    return cloud.sim["lifecycle"].status()["restoresInFlight"]


def _eta(cloud) -> datetime:
    (restore,) = _in_flight(cloud)
    assert restore["label"] == "simulated"
    return datetime.fromisoformat(restore["eta"])


def test_deep_archive_get_is_refused_before_a_restore(cloud, s3, bucket_name):
    bucket = bucket_name()
    _archived(s3, bucket, "deep.dcm", "DEEP_ARCHIVE")
    with pytest.raises(ClientError) as err:
        s3.get_object(Bucket=bucket, Key="deep.dcm")
    assert _code(err) == "InvalidObjectState"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert "Restore" not in s3.head_object(Bucket=bucket, Key="deep.dcm")


def test_expedited_is_refused_for_deep_archive(cloud, s3, bucket_name):
    bucket = bucket_name()
    _archived(s3, bucket, "deep.dcm", "DEEP_ARCHIVE")
    with pytest.raises(ClientError) as err:
        s3.restore_object(Bucket=bucket, Key="deep.dcm",
                          RestoreRequest={"Days": 1, "GlacierJobParameters": {"Tier": "Expedited"}})
    assert _code(err) == "InvalidObjectState"
    assert _in_flight(cloud) == []


@pytest.mark.parametrize("storage_class,tier,low,high", [
    ("GLACIER", "Expedited", timedelta(minutes=1), timedelta(minutes=5)),
    ("GLACIER", "Standard", timedelta(hours=3), timedelta(hours=5)),
    ("GLACIER", "Bulk", timedelta(hours=5), timedelta(hours=12)),
    ("DEEP_ARCHIVE", "Standard", timedelta(hours=0), timedelta(hours=12)),
    ("DEEP_ARCHIVE", "Bulk", timedelta(hours=0), timedelta(hours=48)),
])
def test_restore_takes_its_tiers_time(cloud, s3, bucket_name, storage_class, tier, low, high):
    bucket = bucket_name()
    _archived(s3, bucket, "obj", storage_class)
    asked = cloud.clock.now()
    response = s3.restore_object(Bucket=bucket, Key="obj",
                                 RestoreRequest={"Days": 2, "GlacierJobParameters": {"Tier": tier}})
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 202
    eta = _eta(cloud)
    assert low <= eta - asked <= high

    cloud.clock.advance_to(eta - timedelta(minutes=1) if eta - asked > timedelta(minutes=1) else asked)
    assert s3.head_object(Bucket=bucket, Key="obj")["Restore"] == 'ongoing-request="true"'
    with pytest.raises(ClientError) as err:
        s3.get_object(Bucket=bucket, Key="obj")
    assert _code(err) == "InvalidObjectState"

    cloud.clock.advance_to(eta + timedelta(seconds=1))
    assert s3.get_object(Bucket=bucket, Key="obj")["Body"].read() == BODY
    head = s3.head_object(Bucket=bucket, Key="obj")
    assert head["Restore"].startswith('ongoing-request="false", expiry-date=')
    assert head["StorageClass"] == storage_class          # the archived object stays archived
    assert _in_flight(cloud) == []


def test_second_request_while_in_progress_is_refused(cloud, s3, bucket_name):
    bucket = bucket_name()
    _archived(s3, bucket, "obj", "GLACIER")
    s3.restore_object(Bucket=bucket, Key="obj", RestoreRequest={"Days": 1})
    with pytest.raises(ClientError) as err:
        s3.restore_object(Bucket=bucket, Key="obj", RestoreRequest={"Days": 1})
    assert _code(err) == "RestoreAlreadyInProgress"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409


def test_restored_copy_expires_after_its_days(cloud, s3, bucket_name):
    bucket = bucket_name()
    _archived(s3, bucket, "obj", "GLACIER")
    s3.restore_object(Bucket=bucket, Key="obj",
                      RestoreRequest={"Days": 3, "GlacierJobParameters": {"Tier": "Expedited"}})
    eta = _eta(cloud)
    cloud.clock.advance_to(eta)
    expiry = ceil_midnight(eta + timedelta(days=3))
    head = s3.head_object(Bucket=bucket, Key="obj")
    assert expiry.strftime("%d %b %Y 00:00:00 GMT") in head["Restore"]

    cloud.clock.advance_to(expiry - timedelta(seconds=1))
    assert s3.get_object(Bucket=bucket, Key="obj")["Body"].read() == BODY
    cloud.clock.advance_to(expiry + timedelta(seconds=1))
    with pytest.raises(ClientError) as err:
        s3.get_object(Bucket=bucket, Key="obj")
    assert _code(err) == "InvalidObjectState"
    assert "Restore" not in s3.head_object(Bucket=bucket, Key="obj")


def test_restoring_a_restored_copy_answers_200_and_extends_it(cloud, s3, bucket_name):
    bucket = bucket_name()
    _archived(s3, bucket, "obj", "GLACIER")
    s3.restore_object(Bucket=bucket, Key="obj",
                      RestoreRequest={"Days": 1, "GlacierJobParameters": {"Tier": "Expedited"}})
    cloud.clock.advance(timedelta(minutes=10))
    again = s3.restore_object(Bucket=bucket, Key="obj", RestoreRequest={"Days": 10})
    assert again["ResponseMetadata"]["HTTPStatusCode"] == 200
    cloud.clock.advance(timedelta(days=5))
    assert s3.get_object(Bucket=bucket, Key="obj")["Body"].read() == BODY


def test_restore_of_a_specific_version(cloud, s3, bucket_name):
    bucket = bucket_name()
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    old = s3.put_object(Bucket=bucket, Key="obj", Body=b"old", StorageClass="GLACIER")["VersionId"]
    s3.put_object(Bucket=bucket, Key="obj", Body=b"new", StorageClass="GLACIER")
    s3.restore_object(Bucket=bucket, Key="obj", VersionId=old,
                      RestoreRequest={"Days": 1, "GlacierJobParameters": {"Tier": "Expedited"}})
    cloud.clock.advance(timedelta(minutes=6))
    assert s3.get_object(Bucket=bucket, Key="obj", VersionId=old)["Body"].read() == b"old"
    with pytest.raises(ClientError) as err:
        s3.get_object(Bucket=bucket, Key="obj")
    assert _code(err) == "InvalidObjectState"


def test_glacier_instant_retrieval_needs_no_restore(cloud, s3, bucket_name):
    bucket = bucket_name()
    _archived(s3, bucket, "ir", "GLACIER_IR")
    assert s3.get_object(Bucket=bucket, Key="ir")["Body"].read() == BODY
    with pytest.raises(ClientError) as err:
        s3.restore_object(Bucket=bucket, Key="ir", RestoreRequest={"Days": 1})
    assert _code(err) == "InvalidObjectState"


@pytest.mark.parametrize("request_body,code", [
    ({}, "MalformedXML"),                                                  # no Days
    ({"Days": 1, "GlacierJobParameters": {"Tier": "Standard"}}, None),
])
def test_restore_request_needs_days(cloud, s3, bucket_name, request_body, code):
    bucket = bucket_name()
    _archived(s3, bucket, "obj", "GLACIER")
    if code is None:
        assert s3.restore_object(Bucket=bucket, Key="obj", RestoreRequest=request_body)
        return
    with pytest.raises(ClientError) as err:
        s3.restore_object(Bucket=bucket, Key="obj", RestoreRequest=request_body)
    assert _code(err) == code


def test_missing_key_or_version(cloud, s3, bucket_name):
    bucket = bucket_name()
    _archived(s3, bucket, "obj", "GLACIER")
    with pytest.raises(ClientError) as err:
        s3.restore_object(Bucket=bucket, Key="nope", RestoreRequest={"Days": 1})
    assert _code(err) == "NoSuchKey"


def test_durations_repeat_with_the_seed(cloud_factory, bucket_name):
    etas = []
    for _ in range(2):
        cloud = cloud_factory(SimSettings(seed=42))
        s3 = cloud.target.client("s3", "us-east-1")
        bucket = bucket_name()
        _archived(s3, bucket, "obj", "GLACIER")
        asked = cloud.clock.now()
        s3.restore_object(Bucket=bucket, Key="obj", RestoreRequest={"Days": 1})
        etas.append(_eta(cloud) - asked)
        cloud.stop()
    assert abs(etas[0] - etas[1]) < timedelta(seconds=1)


def test_lifecycle_transition_then_restore(cloud, s3, bucket_name):
    """A Flexible-Retrieval object made by lifecycle is unreadable until restored."""
    bucket = bucket_name()
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [
        {"ID": "g", "Status": "Enabled", "Filter": {}, "Transitions": [{"Days": 1, "StorageClass": "GLACIER"}]}]})
    s3.put_object(Bucket=bucket, Key="obj", Body=b"x" * (256 * 1024))
    cloud.clock.advance(timedelta(days=2))
    with pytest.raises(ClientError) as err:
        s3.get_object(Bucket=bucket, Key="obj")
    assert _code(err) == "InvalidObjectState"
    s3.restore_object(Bucket=bucket, Key="obj", RestoreRequest={"Days": 1, "GlacierJobParameters": {"Tier": "Bulk"}})
    cloud.clock.advance(timedelta(hours=12, minutes=1))
    assert len(s3.get_object(Bucket=bucket, Key="obj")["Body"].read()) == 256 * 1024
