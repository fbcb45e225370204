"""Bad requests answered as S3 answers them, never with an HTML page (drills.cloud.sim.bad_requests)."""

from __future__ import annotations

import http.client
from urllib.parse import urlsplit

import pytest
from botocore.exceptions import ClientError

from drills.cloud.middleware import SimulationMiddleware

_AUTH = ("AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/s3/aws4_request, "
         "SignedHeaders=host, Signature=00")


def _raw(cloud, method: str, path: str, body: bytes = b"") -> tuple[int, str, bytes]:
    parts = urlsplit(cloud.endpoint)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        conn.request(method, path, body=body, headers={"Authorization": _AUTH, "x-amz-content-sha256": "UNSIGNED-PAYLOAD"})
        resp = conn.getresponse()
        return resp.status, resp.getheader("Content-Type") or "", resp.read()
    finally:
        conn.close()


def _garble(body: bytes):
    def handler(request, **_):
        request.data = body
        if "Content-MD5" in request.headers:
            del request.headers["Content-MD5"]
    return handler


@pytest.fixture
def bucket(s3, bucket_name):
    name = bucket_name("bad")
    s3.create_bucket(Bucket=name)
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return name


@pytest.mark.parametrize("body", [b"<ReplicationConfiguration><Rule>", b"not xml at all"])
def test_malformed_replication_xml_is_400_malformed_xml(s3, bucket, body):
    """A configuration document that is not well-formed: 400 MalformedXML.
    https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html#ErrorCodeList"""
    s3.meta.events.register("before-sign.s3.PutBucketReplication", _garble(body))
    with pytest.raises(ClientError) as err:
        s3.put_bucket_replication(Bucket=bucket, ReplicationConfiguration={
            "Role": "arn:aws:iam::123456789012:role/r", "Rules": [{"Status": "Enabled", "Prefix": "",
                                                                    "Destination": {"Bucket": "arn:aws:s3:::x"}}]})
    assert err.value.response["Error"]["Code"] == "MalformedXML"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_invalid_lifecycle_document_is_400_malformed_xml_not_html(cloud, bucket):
    """A well-formed document that does not validate (a lifecycle rule without a Status or any
    action) is refused with MalformedXML, in S3's XML error shape — never moto's HTML 500."""
    status, content_type, body = _raw(cloud, "PUT", f"/{bucket}?lifecycle",
                                      b"<LifecycleConfiguration><Rule><ID>x</ID><Filter><Prefix>"
                                      b"</Prefix></Filter><Transition><Days>abc</Days></Transition></Rule>"
                                      b"</LifecycleConfiguration>")
    assert status == 400, body
    assert b"<Code>MalformedXML</Code>" in body and b"<html" not in body.lower()


def test_key_longer_than_1024_bytes_is_refused(s3, bucket):
    """Object key names are at most 1,024 bytes of UTF-8: KeyTooLongError.
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-keys.html"""
    with pytest.raises(ClientError) as err:
        s3.put_object(Bucket=bucket, Key="é" * 513, Body=b"x")        # 1,026 bytes, 513 characters
    assert err.value.response["Error"]["Code"] == "KeyTooLongError"
    s3.put_object(Bucket=bucket, Key="é" * 512, Body=b"x")             # 1,024 bytes: allowed
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 1


def test_key_with_invalid_utf8_is_refused_not_renamed(cloud, s3, bucket):
    """A key whose bytes are not UTF-8 cannot be parsed: 400 InvalidURI, nothing stored
    (object-keys.html: "The name for a key is a sequence of Unicode characters whose UTF-8
    encoding is at most 1,024 bytes long")."""
    status, _, body = _raw(cloud, "PUT", f"/{bucket}/dicom/%FF%FE.dcm", b"DICM")
    assert status == 400 and b"<Code>InvalidURI</Code>" in body
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_an_unhandled_error_answers_an_aws_shaped_500(cloud, s3, bucket, monkeypatch):
    """Whatever fails inside the simulation, the client gets the service's error shape
    (InternalError), which the SDK reads as a ClientError (ErrorResponses.html)."""
    def boom(self, environ):
        raise RuntimeError("simulated bug")
    monkeypatch.setattr(SimulationMiddleware, "_decode", boom)
    with pytest.raises(ClientError) as err:
        s3.head_bucket(Bucket=bucket)
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    status, content_type, body = _raw(cloud, "GET", f"/{bucket}?versions")
    assert status == 500 and b"<Code>InternalError</Code>" in body and "html" not in content_type
