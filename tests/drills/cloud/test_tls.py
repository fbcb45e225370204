"""``drkit cloud serve --tls``: HTTPS with a self-signed CA; plain HTTP is insecure transport (drills.cloud.tls)."""

from __future__ import annotations

import base64
import json
import ssl
import urllib.error
import urllib.request
import zlib

import boto3
import botocore.config
import pytest
from botocore.exceptions import ClientError

from drills.cloud.server import EmbeddedCloud


def _client(endpoint: str, ca: str | None = None):
    return boto3.client("s3", region_name="us-east-1", endpoint_url=endpoint, verify=ca,
                        aws_access_key_id="testing", aws_secret_access_key="testing",
                        config=botocore.config.Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))


@pytest.fixture
def tls_cloud(tmp_path):
    cloud = EmbeddedCloud(tls_dir=tmp_path / "tls").start()
    yield cloud
    cloud.stop()


def test_tls_endpoint_verifies_against_the_written_ca(tls_cloud, tmp_path):
    assert tls_cloud.endpoint.startswith("https://127.0.0.1:")
    assert tls_cloud.ca_bundle == str(tmp_path / "tls" / "ca.pem")
    s3 = _client(tls_cloud.endpoint, tls_cloud.ca_bundle)
    s3.create_bucket(Bucket="drkit-tls-check")
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["drkit-tls-check"]
    with pytest.raises(urllib.error.URLError) as err:        # not trusted without the CA
        urllib.request.urlopen(f"{tls_cloud.endpoint}/_drkit/status", timeout=5,
                               context=ssl.create_default_context())
    assert isinstance(err.value.reason, ssl.SSLError)


def test_boto3_uploads_over_tls_are_aws_chunked_and_their_trailing_checksum_is_checked(tls_cloud):
    """Over HTTPS boto3 streams PutObject as aws-chunked with the CRC32 as a trailer; S3
    checks and keeps it. https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming.html"""
    s3 = _client(tls_cloud.endpoint, tls_cloud.ca_bundle)
    sent = {}
    s3.meta.events.register("before-send.s3.PutObject",
                            lambda request, **_: sent.update(encoding=request.headers.get("Content-Encoding")))
    s3.create_bucket(Bucket="drkit-tls-chunked")
    s3.put_object(Bucket="drkit-tls-chunked", Key="k", Body=b"pixel data")
    assert sent["encoding"] in (b"aws-chunked", "aws-chunked")
    expected = base64.b64encode(zlib.crc32(b"pixel data").to_bytes(4, "big")).decode()
    head = s3.head_object(Bucket="drkit-tls-chunked", Key="k", ChecksumMode="ENABLED")
    assert head["ChecksumCRC32"] == expected
    assert s3.get_object(Bucket="drkit-tls-chunked", Key="k")["Body"].read() == b"pixel data"
    assert tls_cloud.sim["checksums"].status()["checked"] >= 1


def test_plain_http_is_denied_by_a_tls_only_bucket_policy(tls_cloud):
    """A bucket policy denying requests where aws:SecureTransport is false refuses plain
    HTTP and allows HTTPS (IAM global condition keys, aws:SecureTransport).
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-securetransport
    https://repost.aws/knowledge-center/s3-bucket-policy-for-config-rule"""
    secure = _client(tls_cloud.endpoint, tls_cloud.ca_bundle)
    plain = _client(tls_cloud.endpoint.replace("https://", "http://"))
    bucket = "drkit-tls-only"
    secure.create_bucket(Bucket=bucket)
    secure.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
         "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
         "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]}))
    secure.put_object(Bucket=bucket, Key="k", Body=b"x")
    assert secure.get_object(Bucket=bucket, Key="k")["Body"].read() == b"x"
    with pytest.raises(ClientError) as err:
        plain.get_object(Bucket=bucket, Key="k")
    assert err.value.response["Error"]["Code"] == "AccessDenied"
    with pytest.raises(ClientError) as err:
        plain.put_object(Bucket=bucket, Key="k2", Body=b"x")
    assert err.value.response["Error"]["Code"] == "AccessDenied"


def test_certificates_are_reused_while_valid(tmp_path):
    first = EmbeddedCloud(tls_dir=tmp_path).start()
    ca = (tmp_path / "ca.pem").read_bytes()
    first.stop()
    second = EmbeddedCloud(tls_dir=tmp_path).start()
    try:
        assert (tmp_path / "ca.pem").read_bytes() == ca
        assert oct((tmp_path / "server.key").stat().st_mode & 0o777) == "0o600"
    finally:
        second.stop()


def test_plain_http_default_still_counts_as_secure(cloud, s3):
    """Without --tls the loopback HTTP endpoint stands in for TLS (unchanged default)."""
    bucket = "drkit-default-transport"
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": f"arn:aws:s3:::{bucket}/*",
         "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]}))
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
