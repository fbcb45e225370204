"""Bucket policies are enforced with their conditions, as S3 does (moto ignores conditions)."""

from __future__ import annotations

import json
import uuid

import pytest
from botocore.exceptions import ClientError

from drills.cloud.simulation import SimSettings

KEY_ARN = "arn:aws:kms:us-east-1:123456789012:key/expected"


def tls_and_key_policy(bucket: str, key_arn: str = KEY_ARN) -> str:
    """The statements components/secure_bucket.py writes (TLS only; only the stack's key)."""
    objects = f"arn:aws:s3:::{bucket}/*"
    sse, key = "s3:x-amz-server-side-encryption", "s3:x-amz-server-side-encryption-aws-kms-key-id"
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
         "Resource": [f"arn:aws:s3:::{bucket}", objects], "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
        {"Sid": "DenyNonKmsEncryption", "Effect": "Deny", "Principal": "*", "Action": "s3:PutObject",
         "Resource": objects, "Condition": {"StringNotEquals": {sse: "aws:kms"}, "Null": {sse: "false"}}},
        {"Sid": "DenyOtherKmsKeys", "Effect": "Deny", "Principal": "*", "Action": "s3:PutObject",
         "Resource": objects, "Condition": {"StringNotEquals": {key: key_arn}, "Null": {key: "false"}}},
        {"Sid": "DenyKmsWithoutKeyId", "Effect": "Deny", "Principal": "*", "Action": "s3:PutObject",
         "Resource": objects, "Condition": {"StringEquals": {sse: "aws:kms"}, "Null": {key: "true"}}},
    ]})


def make_bucket(cloud, key_arn: str = KEY_ARN) -> tuple[object, str]:
    s3 = cloud.target.client("s3", "us-east-1")
    bucket = f"drkit-policy-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_policy(Bucket=bucket, Policy=tls_and_key_policy(bucket, key_arn))
    return s3, bucket


def code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return exc.value.response["Error"]["Code"]


def test_header_less_upload_and_reads_are_allowed(cloud) -> None:
    s3, bucket = make_bucket(cloud)
    s3.put_object(Bucket=bucket, Key="dicom/a.dcm", Body=b"x")
    assert s3.get_object(Bucket=bucket, Key="dicom/a.dcm")["Body"].read() == b"x"
    assert s3.head_object(Bucket=bucket, Key="dicom/a.dcm")["ContentLength"] == 1


def test_upload_with_the_expected_key_is_allowed(cloud) -> None:
    key_arn = cloud.target.client("kms", "us-east-1").create_key()["KeyMetadata"]["Arn"]   # S3 needs a real key
    s3, bucket = make_bucket(cloud, key_arn)
    s3.put_object(Bucket=bucket, Key="a", Body=b"x", ServerSideEncryption="aws:kms", SSEKMSKeyId=key_arn)


@pytest.mark.parametrize("extra, sid", [
    ({"ServerSideEncryption": "AES256"}, "DenyNonKmsEncryption"),
    ({"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": "arn:aws:kms:us-east-1:123456789012:key/other"},
     "DenyOtherKmsKeys"),
    ({"ServerSideEncryption": "aws:kms"}, "DenyKmsWithoutKeyId"),
])
def test_uploads_asking_for_other_encryption_are_denied(cloud, extra: dict, sid: str) -> None:
    s3, bucket = make_bucket(cloud)
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket=bucket, Key="a", Body=b"x", **extra)
    assert code(exc) == "AccessDenied"
    assert sid in exc.value.response["Error"]["Message"]
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount", 0) == 0


def test_plain_http_is_refused_when_the_endpoint_is_not_treated_as_tls(cloud_factory) -> None:
    cloud = cloud_factory(SimSettings(extra={"bucket_policy": {"secure_transport": False}}))
    s3, bucket = make_bucket(cloud)
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket=bucket, Key="a", Body=b"x")
    assert code(exc) == "AccessDenied"
    assert "DenyInsecureTransport" in exc.value.response["Error"]["Message"]


def test_bucket_without_policy_is_untouched_and_denials_are_counted(cloud) -> None:
    s3 = cloud.target.client("s3", "us-east-1")
    s3.create_bucket(Bucket="drkit-no-policy-bucket")
    s3.put_object(Bucket="drkit-no-policy-bucket", Key="a", Body=b"x", ServerSideEncryption="AES256")
    s3, bucket = make_bucket(cloud)
    with pytest.raises(ClientError):
        s3.put_object(Bucket=bucket, Key="a", Body=b"x", ServerSideEncryption="AES256")
    assert cloud.sim["bucket_policy"].status()["denied"] == 1


def test_access_logging_accepts_a_target_whose_policy_has_a_principal_star_statement(cloud) -> None:
    """moto crashed (HTTP 500) on PutBucketLogging when the target's policy had "Principal": "*"."""
    s3, logs = make_bucket(cloud)
    s3.put_bucket_policy(Bucket=logs, Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        json.loads(tls_and_key_policy(logs))["Statement"][0],
        {"Sid": "S3ServerAccessLogDelivery", "Effect": "Allow", "Principal": {"Service": "logging.s3.amazonaws.com"},
         "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{logs}/*"}]}))
    source = f"drkit-source-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=source)
    s3.put_bucket_logging(Bucket=source, BucketLoggingStatus={"LoggingEnabled": {"TargetBucket": logs,
                                                                                   "TargetPrefix": "src/"}})
    assert s3.get_bucket_logging(Bucket=source)["LoggingEnabled"]["TargetBucket"] == logs


def test_a_policy_whose_statement_is_one_object_is_enforced(cloud) -> None:
    """``Statement`` may be a single statement object instead of an array ("IAM JSON policy
    elements: Statement", https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_statement.html:
    "The Statement element can contain a single statement or an array of individual statements");
    a Deny written so still refuses what it names and nothing else."""
    s3 = cloud.target.client("s3", "us-east-1")
    bucket = f"drkit-policy-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": {
        "Sid": "DenyAesUploads", "Effect": "Deny", "Principal": "*", "Action": "s3:PutObject",
        "Resource": f"arn:aws:s3:::{bucket}/*", "Condition": {"StringEquals": {
            "s3:x-amz-server-side-encryption": "AES256"}}}}))
    s3.put_object(Bucket=bucket, Key="a", Body=b"x")
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket=bucket, Key="b", Body=b"x", ServerSideEncryption="AES256")
    assert code(exc) == "AccessDenied" and "DenyAesUploads" in exc.value.response["Error"]["Message"]
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["a"]
