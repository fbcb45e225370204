"""Uploads whose additional checksum does not match the body are refused (BadDigest)."""

from __future__ import annotations

import base64
import hashlib
import zlib

import pytest
from botocore.exceptions import ClientError


def b64sha256(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def test_matching_checksum_is_stored(cloud, s3, bucket_name) -> None:
    bucket = bucket_name()
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="a", Body=b"pixel data", ChecksumAlgorithm="SHA256", ChecksumSHA256=b64sha256(b"pixel data"))
    head = s3.head_object(Bucket=bucket, Key="a", ChecksumMode="ENABLED")
    assert head["ChecksumSHA256"] == b64sha256(b"pixel data")


def test_mismatched_checksum_is_refused_and_nothing_is_stored(cloud, s3, bucket_name) -> None:
    bucket = bucket_name()
    s3.create_bucket(Bucket=bucket)
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket=bucket, Key="a", Body=b"pixel data", ChecksumAlgorithm="SHA256", ChecksumSHA256=b64sha256(b"other bytes"))
    assert exc.value.response["Error"]["Code"] == "BadDigest"
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount", 0) == 0
    status = cloud.sim["checksums"].status()
    assert status["refused"] == 1 and status["checked"] >= 1


def test_mismatched_part_checksum_is_refused(cloud, s3, bucket_name) -> None:
    bucket = bucket_name()
    s3.create_bucket(Bucket=bucket)
    upload = s3.create_multipart_upload(Bucket=bucket, Key="big", ChecksumAlgorithm="SHA256")
    with pytest.raises(ClientError) as exc:
        s3.upload_part(Bucket=bucket, Key="big", UploadId=upload["UploadId"], PartNumber=1,
                       Body=b"x" * 1024, ChecksumSHA256=b64sha256(b"y" * 1024))
    assert exc.value.response["Error"]["Code"] == "BadDigest"


def _bucket(s3, bucket_name) -> str:
    bucket = bucket_name()
    s3.create_bucket(Bucket=bucket)
    return bucket


def _md5(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data).digest()).decode()


def test_wrong_content_md5_is_refused_with_bad_digest(cloud, s3, bucket_name) -> None:
    """"BadDigest: The Content-MD5 or checksum value that you specified did not match what
    the server received" (400); a Content-MD5 that is not a valid MD5 -> InvalidDigest.
    https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html#ErrorCodeList"""
    bucket = _bucket(s3, bucket_name)
    s3.put_object(Bucket=bucket, Key="ok", Body=b"pixels", ContentMD5=_md5(b"pixels"))
    for md5, code in ((_md5(b"other"), "BadDigest"), ("bm90LW1kNQ==", "InvalidDigest")):
        with pytest.raises(ClientError) as exc:
            s3.put_object(Bucket=bucket, Key="bad", Body=b"pixels", ContentMD5=md5)
        assert exc.value.response["Error"]["Code"] == code
        assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["ok"]


@pytest.mark.parametrize("algorithm", ["CRC32", "CRC32C", "CRC64NVME", "SHA1"])
def test_wrong_crc_or_sha1_checksum_is_refused_and_a_right_one_is_kept(cloud, s3, bucket_name, algorithm) -> None:
    """A PutObject whose x-amz-checksum-<algorithm> does not match the body fails with
    BadDigest; a matching value is stored and returned by HeadObject with ChecksumMode.
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/checking-object-integrity.html"""
    from awscrt import checksums

    compute = {"CRC32": lambda d: zlib.crc32(d).to_bytes(4, "big"),
               "CRC32C": lambda d: checksums.crc32c(d).to_bytes(4, "big"),
               "CRC64NVME": lambda d: checksums.crc64nvme(d).to_bytes(8, "big"),
               "SHA1": lambda d: hashlib.sha1(d).digest()}[algorithm]
    bucket = _bucket(s3, bucket_name)
    good = base64.b64encode(compute(b"pixel data")).decode()
    wrong = base64.b64encode(compute(b"other data")).decode()
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket=bucket, Key="a", Body=b"pixel data", **{f"Checksum{algorithm}": wrong})
    assert exc.value.response["Error"]["Code"] == "BadDigest"
    s3.put_object(Bucket=bucket, Key="a", Body=b"pixel data", **{f"Checksum{algorithm}": good})
    assert s3.head_object(Bucket=bucket, Key="a", ChecksumMode="ENABLED")[f"Checksum{algorithm}"] == good


def test_boto3_default_crc32_is_kept(cloud, s3, bucket_name) -> None:
    """boto3 adds a CRC32 checksum by default; S3 keeps and returns it.
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/checking-object-integrity.html"""
    bucket = _bucket(s3, bucket_name)
    s3.put_object(Bucket=bucket, Key="a", Body=b"pixel data")
    expected = base64.b64encode(zlib.crc32(b"pixel data").to_bytes(4, "big")).decode()
    assert s3.head_object(Bucket=bucket, Key="a", ChecksumMode="ENABLED")["ChecksumCRC32"] == expected


def test_aws_chunked_upload_with_a_wrong_trailing_checksum_is_refused(cloud, bucket_name) -> None:
    """Over aws-chunked encoding the checksum comes as a trailer (x-amz-trailer); S3 checks it.
    https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming.html"""
    import urllib.error
    import urllib.request

    s3 = cloud.target.client("s3", "us-east-1")
    bucket = _bucket(s3, bucket_name)
    body = b"pixel data"

    def send(value: str) -> int:
        chunked = (f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n"
                   + f"x-amz-checksum-crc32:{value}\r\n\r\n".encode())
        request = urllib.request.Request(
            f"{cloud.endpoint}/{bucket}/chunked", data=chunked, method="PUT",
            headers={"Content-Encoding": "aws-chunked", "x-amz-trailer": "x-amz-checksum-crc32",
                     "Content-Type": "application/octet-stream",
                     "x-amz-decoded-content-length": str(len(body)),
                     "x-amz-content-sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
                     "Authorization": "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/s3/aws4_request, "
                                      "SignedHeaders=host, Signature=0"})
        try:
            with urllib.request.urlopen(request, timeout=10) as resp:
                return resp.status
        except urllib.error.HTTPError as exc:
            return exc.code

    wrong = base64.b64encode(zlib.crc32(b"other").to_bytes(4, "big")).decode()
    assert send(wrong) == 400
    good = base64.b64encode(zlib.crc32(body).to_bytes(4, "big")).decode()
    assert send(good) == 200
    assert s3.get_object(Bucket=bucket, Key="chunked")["Body"].read() == body


def test_multipart_upload_reports_the_composite_sha256_with_part_count(cloud, s3, bucket_name) -> None:
    """A multipart upload with SHA-256 part checksums: the object's checksum is the SHA-256
    of the parts' SHA-256 digests, reported as "<base64>-N" with ChecksumType COMPOSITE, on
    CompleteMultipartUpload and on HeadObject (ChecksumMode ENABLED).
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/checking-object-integrity-upload.html"""
    bucket = _bucket(s3, bucket_name)
    parts = [b"a" * (5 * 1024 * 1024), b"b" * 10]
    upload = s3.create_multipart_upload(Bucket=bucket, Key="big", ChecksumAlgorithm="SHA256")
    done = []
    for number, data in enumerate(parts, 1):
        answer = s3.upload_part(Bucket=bucket, Key="big", UploadId=upload["UploadId"], PartNumber=number, Body=data,
                                ChecksumAlgorithm="SHA256")
        done.append({"PartNumber": number, "ETag": answer["ETag"], "ChecksumSHA256": answer["ChecksumSHA256"]})
    completed = s3.complete_multipart_upload(Bucket=bucket, Key="big", UploadId=upload["UploadId"],
                                             MultipartUpload={"Parts": done})
    composite = base64.b64encode(hashlib.sha256(b"".join(hashlib.sha256(p).digest() for p in parts)).digest())
    expected = f"{composite.decode()}-2"
    assert completed["ChecksumSHA256"] == expected and completed["ChecksumType"] == "COMPOSITE"
    head = s3.head_object(Bucket=bucket, Key="big", ChecksumMode="ENABLED")
    assert head["ChecksumSHA256"] == expected and head["ChecksumType"] == "COMPOSITE"
