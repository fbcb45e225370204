"""Operation names from raw requests (drills.cloud.operations), using requests boto3 really builds.

Each request is captured at ``before-send`` (nothing goes on the wire), then decoded the way
the middleware decodes it: SigV4 scope -> (region, service); method + path + query -> operation.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from drills.aws import Target
from drills.cloud import operations
from drills.cloud.interceptors import Headers

UNUSED_ENDPOINT = "http://127.0.0.1:9"     # discard port: never contacted


class _Captured(Exception):
    def __init__(self, request: Any) -> None:
        self.request = request


def _stop(request: Any, **_: Any) -> None:
    raise _Captured(request)


@pytest.fixture(scope="module")
def decode():
    """``decode("s3", "eu-west-1", "put_object", Bucket=..)`` -> (region, service, operation, params)."""
    target = Target(endpoint=UNUSED_ENDPOINT)      # one per module: it caches its clients

    def run(service: str, region: str, method: str, **kwargs: Any) -> tuple[Any, ...]:
        client = target.client(service, region, retries={"max_attempts": 1})
        client.meta.events.register_first("before-send.*.*", _stop, unique_id="drkit-test-capture")
        with pytest.raises(_Captured) as captured:
            getattr(client, method)(**kwargs)
        request = captured.value.request
        url = urlsplit(request.url)
        headers = Headers({k: v.decode() if isinstance(v, bytes) else v for k, v in request.headers.items()})
        query = parse_qs(url.query, keep_blank_values=True)
        body = request.body or b""
        if hasattr(body, "read"):
            body = body.read()
        if isinstance(body, str):
            body = body.encode()
        got_region, got_service = operations.credential_scope(headers, query)
        operation, params = operations.resolve(got_service, request.method, url.path, query, headers, body)
        return got_region, got_service, operation, params

    return run


LATER = datetime.now(timezone.utc) + timedelta(days=1)
S3_CASES = [
    ("list_buckets", {}, "ListBuckets", {}),
    ("create_bucket", {"Bucket": "b"}, "CreateBucket", {"Bucket": "b"}),
    ("put_object", {"Bucket": "b", "Key": "dicom/1.2/3.4/5.6.dcm", "Body": b"x"}, "PutObject",
     {"Bucket": "b", "Key": "dicom/1.2/3.4/5.6.dcm"}),
    ("get_object", {"Bucket": "b", "Key": "k"}, "GetObject", {"Bucket": "b", "Key": "k"}),
    ("head_object", {"Bucket": "b", "Key": "k", "VersionId": "v1"}, "HeadObject", {"Bucket": "b", "Key": "k"}),
    ("delete_object", {"Bucket": "b", "Key": "k", "VersionId": "v1"}, "DeleteObject", {"Bucket": "b", "Key": "k"}),
    ("delete_objects", {"Bucket": "b", "Delete": {"Objects": [{"Key": "k"}]}}, "DeleteObjects", {"Bucket": "b"}),
    ("copy_object", {"Bucket": "b", "Key": "k2", "CopySource": {"Bucket": "a", "Key": "k"}}, "CopyObject",
     {"Bucket": "b", "Key": "k2"}),
    ("list_object_versions", {"Bucket": "b"}, "ListObjectVersions", {"Bucket": "b"}),
    ("list_objects_v2", {"Bucket": "b", "Prefix": "dicom/"}, "ListObjectsV2", {"Bucket": "b"}),
    ("put_object_retention", {"Bucket": "b", "Key": "k", "Retention": {"Mode": "COMPLIANCE", "RetainUntilDate": LATER}},
     "PutObjectRetention", {"Bucket": "b", "Key": "k"}),
    ("get_object_retention", {"Bucket": "b", "Key": "k"}, "GetObjectRetention", {"Bucket": "b", "Key": "k"}),
    ("put_object_legal_hold", {"Bucket": "b", "Key": "k", "LegalHold": {"Status": "ON"}}, "PutObjectLegalHold",
     {"Bucket": "b", "Key": "k"}),
    ("get_object_legal_hold", {"Bucket": "b", "Key": "k"}, "GetObjectLegalHold", {"Bucket": "b", "Key": "k"}),
    ("create_multipart_upload", {"Bucket": "b", "Key": "k"}, "CreateMultipartUpload", {"Bucket": "b", "Key": "k"}),
    ("upload_part", {"Bucket": "b", "Key": "k", "UploadId": "u", "PartNumber": 1, "Body": b"x"}, "UploadPart",
     {"Bucket": "b", "Key": "k"}),
    ("complete_multipart_upload", {"Bucket": "b", "Key": "k", "UploadId": "u",
                                   "MultipartUpload": {"Parts": [{"PartNumber": 1, "ETag": "e"}]}},
     "CompleteMultipartUpload", {"Bucket": "b", "Key": "k"}),
    ("restore_object", {"Bucket": "b", "Key": "k", "RestoreRequest": {"Days": 1}}, "RestoreObject",
     {"Bucket": "b", "Key": "k"}),
    ("put_bucket_replication", {"Bucket": "b", "ReplicationConfiguration": {"Role": "r", "Rules": []}},
     "PutBucketReplication", {"Bucket": "b"}),
    ("get_bucket_lifecycle_configuration", {"Bucket": "b"}, "GetBucketLifecycleConfiguration", {"Bucket": "b"}),
    ("put_object_lock_configuration", {"Bucket": "b", "ObjectLockConfiguration": {"ObjectLockEnabled": "Enabled"}},
     "PutObjectLockConfiguration", {"Bucket": "b"}),
    ("put_bucket_versioning", {"Bucket": "b", "VersioningConfiguration": {"Status": "Enabled"}},
     "PutBucketVersioning", {"Bucket": "b"}),
]


@pytest.mark.parametrize(("method", "kwargs", "operation", "params"), S3_CASES, ids=[c[2] for c in S3_CASES])
def test_s3_operations(decode, method: str, kwargs: dict, operation: str, params: dict) -> None:
    region, service, got, got_params = decode("s3", "eu-west-1", method, **kwargs)
    assert (region, service, got) == ("eu-west-1", "s3", operation)
    assert {k: got_params.get(k) for k in params} == params


def test_s3_key_with_double_slash_and_spaces(decode) -> None:
    _, _, operation, params = decode("s3", "us-east-1", "put_object", Bucket="b", Key="a//b c/é.dcm", Body=b"")
    assert operation == "PutObject"
    from urllib.parse import unquote
    assert unquote(params["Key"]) == "a//b c/é.dcm"


@pytest.mark.parametrize(("service", "method", "kwargs", "operation"), [
    ("dynamodb", "put_item", {"TableName": "t", "Item": {"pk": {"S": "x"}}}, "PutItem"),
    ("dynamodb", "query", {"TableName": "t", "KeyConditionExpression": "pk = :p",
                           "ExpressionAttributeValues": {":p": {"S": "x"}}}, "Query"),
    ("dynamodb", "describe_table", {"TableName": "t"}, "DescribeTable"),
    ("backup", "start_backup_job", {"BackupVaultName": "v", "ResourceArn": "arn:aws:s3:::b",
                                    "IamRoleArn": "arn:aws:iam::123456789012:role/r"}, "StartBackupJob"),
    ("backup", "describe_backup_vault", {"BackupVaultName": "v"}, "DescribeBackupVault"),
    ("backup", "list_recovery_points_by_backup_vault", {"BackupVaultName": "v"}, "ListRecoveryPointsByBackupVault"),
    ("backup", "put_backup_vault_lock_configuration", {"BackupVaultName": "v", "MinRetentionDays": 1},
     "PutBackupVaultLockConfiguration"),
    ("backup", "start_restore_job", {"RecoveryPointArn": "arn:r", "Metadata": {}, "IamRoleArn": "arn:aws:iam::1:role/r"},
     "StartRestoreJob"),
    ("sqs", "receive_message", {"QueueUrl": "http://127.0.0.1:9/123456789012/q"}, "ReceiveMessage"),
    ("sts", "get_caller_identity", {}, "GetCallerIdentity"),
])
def test_other_services(decode, service: str, method: str, kwargs: dict, operation: str) -> None:
    region, got_service, got, _ = decode(service, "us-west-2", method, **kwargs)
    assert (region, got_service, got) == ("us-west-2", service, operation)


def test_backup_uri_parameters(decode) -> None:
    _, _, operation, params = decode("backup", "us-east-1", "describe_backup_vault", BackupVaultName="vault-1")
    assert operation == "DescribeBackupVault" and params == {"backupVaultName": "vault-1"}


def test_presigned_url_scope() -> None:
    url = Target(endpoint=UNUSED_ENDPOINT).client("s3", "ap-south-1").generate_presigned_url(
        "get_object", Params={"Bucket": "b", "Key": "k"})
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    region, service = operations.credential_scope(Headers(), query)
    assert (region, service) == ("ap-south-1", "s3")
    assert operations.resolve(service, "GET", parts.path, query, Headers(), b"")[0] == "GetObject"


def test_unknown_requests() -> None:
    assert operations.credential_scope(Headers(), {}) == (None, None)
    assert operations.resolve(None, "GET", "/", {}, Headers(), b"") == (None, {})
    assert operations.resolve("no-such-service", "GET", "/", {}, Headers(), b"") == (None, {})
    assert operations.protocol("s3") == "rest-xml" and operations.protocol("dynamodb") == "json"
    assert operations.target_prefix("dynamodb") == "DynamoDB_20120810"


def test_resolution_survives_botocore_rewriting_the_s3_model(cloud, client) -> None:
    """botocore strips /{Bucket} from the S3 model in place when it builds an S3 client; the
    resolver must keep reading the documented URIs (CreateBucket once resolved to nothing)."""
    from drills.cloud.operations import resolve

    client("s3").list_buckets()      # an S3 client exists in this process
    assert resolve("s3", "PUT", "/bucket-one", {}, {}, b"") == ("CreateBucket", {"Bucket": "bucket-one"})


def test_the_credential_gives_the_access_key_with_the_scope() -> None:
    """SigV4: ``Credential=<access key>/<date>/<region>/<service>/aws4_request`` in the Authorization
    header, or ``X-Amz-Credential`` in a presigned URL
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html) — read once, for the
    caller (the key) and the routing (region, service) alike."""
    auth = Headers({"Authorization": "AWS4-HMAC-SHA256 Credential=ASIAEXAMPLE/20240101/eu-west-1/dynamodb/"
                                     "aws4_request, SignedHeaders=host, Signature=abc"})
    assert operations.credential(auth, {}) == ("ASIAEXAMPLE", "eu-west-1", "dynamodb")
    url = Target(endpoint=UNUSED_ENDPOINT).client("s3", "ap-south-1").generate_presigned_url(
        "get_object", Params={"Bucket": "b", "Key": "k"})
    key, region, service = operations.credential(Headers(), parse_qs(urlsplit(url).query))
    assert (key, region, service) == ("testing", "ap-south-1", "s3")
    assert operations.credential(Headers(), {}) == (None, None, None)
