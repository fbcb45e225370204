"""CopyObject as S3 does it (drills.cloud.sim.copies), on the embedded cloud."""

from __future__ import annotations

from datetime import timedelta

import pytest
from botocore.exceptions import ClientError

DAY = timedelta(days=1)


def _code(err: pytest.ExceptionInfo[ClientError]) -> str:
    return err.value.response["Error"]["Code"]


def _status(err: pytest.ExceptionInfo[ClientError]) -> int:
    return err.value.response["ResponseMetadata"]["HTTPStatusCode"]


@pytest.fixture
def locked_bucket(s3, bucket_name):
    bucket = bucket_name("lock")
    s3.create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True)
    s3.put_object_lock_configuration(Bucket=bucket, ObjectLockConfiguration={
        "ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1}}})
    return bucket


@pytest.fixture
def versioned(s3, bucket_name):
    bucket = bucket_name("copy")
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    return bucket


def test_copy_prior_version_back_into_object_lock_bucket_gets_default_retention_from_the_copy(
        cloud, s3, locked_bucket):
    """AWS accepts a plain CopyObject into an Object Lock bucket with default retention (the
    Content-MD5 requirement is PutObject's only); the new version gets the bucket's default
    retention counted from the copy.
    https://docs.aws.amazon.com/AmazonS3/latest/API/API_CopyObject.html
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lock.html#object-lock-bucket-config"""
    key = "dicom/1.2/3.dcm"
    good = s3.put_object(Bucket=locked_bucket, Key=key, Body=b"good")["VersionId"]
    s3.put_object(Bucket=locked_bucket, Key=key, Body=b"ransomware")
    cloud.clock.advance(10 * 86400)
    copied_at = cloud.clock.now()
    new = s3.copy_object(Bucket=locked_bucket, Key=key,
                         CopySource={"Bucket": locked_bucket, "Key": key, "VersionId": good})
    assert new["CopySourceVersionId"] == good
    assert s3.get_object(Bucket=locked_bucket, Key=key)["Body"].read() == b"good"
    retention = s3.get_object_retention(Bucket=locked_bucket, Key=key, VersionId=new["VersionId"])["Retention"]
    assert retention["Mode"] == "GOVERNANCE"
    assert abs((retention["RetainUntilDate"] - (copied_at + DAY)).total_seconds()) < 5


def test_copy_with_explicit_lock_headers_needs_no_content_md5(cloud, s3, locked_bucket):
    """Lock headers on CopyObject apply to the copy (API_CopyObject ObjectLockMode/RetainUntilDate)."""
    key = "dicom/a.dcm"
    s3.put_object(Bucket=locked_bucket, Key=key, Body=b"x")
    until = (cloud.clock.now() + 30 * DAY).replace(microsecond=0)
    new = s3.copy_object(Bucket=locked_bucket, Key="dicom/b.dcm", CopySource={"Bucket": locked_bucket, "Key": key},
                         ObjectLockMode="COMPLIANCE", ObjectLockRetainUntilDate=until)
    retention = s3.get_object_retention(Bucket=locked_bucket, Key="dicom/b.dcm", VersionId=new["VersionId"])
    assert retention["Retention"] == {"Mode": "COMPLIANCE", "RetainUntilDate": until}


def test_copy_if_none_match_star_refuses_an_existing_destination(s3, versioned):
    """If-None-Match: * copies only if the destination key does not exist, else 412.
    https://docs.aws.amazon.com/AmazonS3/latest/API/API_CopyObject.html#API_CopyObject_RequestSyntax"""
    s3.put_object(Bucket=versioned, Key="src", Body=b"new")
    s3.put_object(Bucket=versioned, Key="dst", Body=b"newer good version")
    with pytest.raises(ClientError) as err:
        s3.copy_object(Bucket=versioned, Key="dst", CopySource={"Bucket": versioned, "Key": "src"}, IfNoneMatch="*")
    assert (_code(err), _status(err)) == ("PreconditionFailed", 412)
    assert s3.get_object(Bucket=versioned, Key="dst")["Body"].read() == b"newer good version"
    assert len(s3.list_object_versions(Bucket=versioned, Prefix="dst")["Versions"]) == 1
    s3.copy_object(Bucket=versioned, Key="fresh", CopySource={"Bucket": versioned, "Key": "src"}, IfNoneMatch="*")
    assert s3.get_object(Bucket=versioned, Key="fresh")["Body"].read() == b"new"


def test_copy_if_match_compares_the_destination_etag(s3, versioned):
    """If-Match copies only if the destination's ETag matches (412 otherwise; 404 NoSuchKey
    when there is no destination object). API_CopyObject, If-Match."""
    s3.put_object(Bucket=versioned, Key="src", Body=b"restore me")
    etag = s3.put_object(Bucket=versioned, Key="dst", Body=b"v1")["ETag"]
    s3.put_object(Bucket=versioned, Key="dst", Body=b"v2 written meanwhile")
    with pytest.raises(ClientError) as err:
        s3.copy_object(Bucket=versioned, Key="dst", CopySource={"Bucket": versioned, "Key": "src"}, IfMatch=etag)
    assert (_code(err), _status(err)) == ("PreconditionFailed", 412)
    current = s3.head_object(Bucket=versioned, Key="dst")["ETag"]
    s3.copy_object(Bucket=versioned, Key="dst", CopySource={"Bucket": versioned, "Key": "src"}, IfMatch=current)
    assert s3.get_object(Bucket=versioned, Key="dst")["Body"].read() == b"restore me"
    with pytest.raises(ClientError) as err:
        s3.copy_object(Bucket=versioned, Key="absent", CopySource={"Bucket": versioned, "Key": "src"}, IfMatch=current)
    assert _code(err) == "NoSuchKey"


def test_copy_source_if_match_and_dates(cloud, s3, versioned):
    """x-amz-copy-source-if-match / -if-unmodified-since / -if-modified-since: 412 when they
    do not hold; if-match true makes if-unmodified-since irrelevant. API_CopyObject."""
    etag = s3.put_object(Bucket=versioned, Key="src", Body=b"s")["ETag"]
    src = {"Bucket": versioned, "Key": "src"}
    with pytest.raises(ClientError) as err:
        s3.copy_object(Bucket=versioned, Key="d", CopySource=src, CopySourceIfMatch='"0123456789abcdef"')
    assert (_code(err), _status(err)) == ("PreconditionFailed", 412)
    earlier = cloud.clock.now() - DAY
    with pytest.raises(ClientError) as err:
        s3.copy_object(Bucket=versioned, Key="d", CopySource=src, CopySourceIfUnmodifiedSince=earlier)
    assert _code(err) == "PreconditionFailed"
    later = cloud.clock.now() + DAY
    with pytest.raises(ClientError) as err:
        s3.copy_object(Bucket=versioned, Key="d", CopySource=src, CopySourceIfModifiedSince=later)
    assert _code(err) == "PreconditionFailed"
    s3.copy_object(Bucket=versioned, Key="d", CopySource=src, CopySourceIfMatch=etag, CopySourceIfUnmodifiedSince=earlier)
    assert s3.get_object(Bucket=versioned, Key="d")["Body"].read() == b"s"


def test_racing_conditional_copies_one_wins(s3, versioned):
    """Eight copies racing with If-None-Match: * for one key: exactly one succeeds."""
    from concurrent.futures import ThreadPoolExecutor
    for i in range(8):
        s3.put_object(Bucket=versioned, Key=f"src/{i}", Body=f"{i}".encode())

    def attempt(i: int) -> bool:
        try:
            s3.copy_object(Bucket=versioned, Key="dst", CopySource={"Bucket": versioned, "Key": f"src/{i}"},
                           IfNoneMatch="*")
            return True
        except ClientError as exc:
            assert exc.response["Error"]["Code"] == "PreconditionFailed"
            return False

    with ThreadPoolExecutor(8) as pool:
        wins = sum(pool.map(attempt, range(8)))
    assert wins == 1
    assert len(s3.list_object_versions(Bucket=versioned, Prefix="dst")["Versions"]) == 1
