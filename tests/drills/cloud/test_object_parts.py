"""GetObjectAttributes ObjectParts and S3-computed checksum values (drills.cloud.sim.object_parts)."""

from __future__ import annotations

import base64
import hashlib

import pytest
from botocore.exceptions import ClientError

PART = 5 * 1024 * 1024


@pytest.fixture
def bucket(s3, bucket_name):
    name = bucket_name("parts")
    s3.create_bucket(Bucket=name)
    return name


def _multipart(s3, bucket, key, sizes):
    upload = s3.create_multipart_upload(Bucket=bucket, Key=key, ChecksumAlgorithm="SHA256")["UploadId"]
    parts, bodies = [], []
    for number, size in enumerate(sizes, start=1):
        body = bytes([number]) * size
        bodies.append(body)
        etag = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload, PartNumber=number, Body=body,
                              ChecksumAlgorithm="SHA256")["ETag"]
        parts.append({"PartNumber": number, "ETag": etag,
                      "ChecksumSHA256": base64.b64encode(hashlib.sha256(body).digest()).decode()})
    s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload, MultipartUpload={"Parts": parts})
    return bodies


def test_object_parts_of_a_multipart_object(s3, bucket):
    """GetObjectAttributes with ObjectParts: TotalPartsCount, each part's number, size and
    checksum, paged by MaxParts / PartNumberMarker.
    https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObjectAttributes.html
    https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObjectAttributesParts.html"""
    bodies = _multipart(s3, bucket, "big.dcm", [PART, PART, 1000])
    attrs = s3.get_object_attributes(Bucket=bucket, Key="big.dcm", ObjectAttributes=["ObjectParts", "ObjectSize"],
                                     MaxParts=2)
    parts = attrs["ObjectParts"]
    assert parts["TotalPartsCount"] == 3 and parts["IsTruncated"] is True and parts["NextPartNumberMarker"] == 2
    assert [(p["PartNumber"], p["Size"]) for p in parts["Parts"]] == [(1, PART), (2, PART)]
    assert parts["Parts"][0]["ChecksumSHA256"] == base64.b64encode(hashlib.sha256(bodies[0]).digest()).decode()
    rest = s3.get_object_attributes(Bucket=bucket, Key="big.dcm", ObjectAttributes=["ObjectParts"],
                                    PartNumberMarker=2)["ObjectParts"]
    assert [(p["PartNumber"], p["Size"]) for p in rest["Parts"]] == [(3, 1000)] and rest["IsTruncated"] is False


def test_single_part_object_has_no_object_parts(s3, bucket):
    """ObjectParts describes multipart uploads only (API_GetObjectAttributes)."""
    s3.put_object(Bucket=bucket, Key="small", Body=b"x")
    attrs = s3.get_object_attributes(Bucket=bucket, Key="small", ObjectAttributes=["ObjectParts", "ObjectSize"])
    assert "ObjectParts" not in attrs and attrs["ObjectSize"] == 1


def test_copy_with_crc32c_stores_a_crc32c(s3, bucket):
    """CopyObject with ChecksumAlgorithm=CRC32C computes a CRC32C of the copy (API_CopyObject,
    x-amz-checksum-algorithm; userguide/checking-object-integrity.html)."""
    from awscrt import checksums
    body = b"DICM" * 1000
    s3.put_object(Bucket=bucket, Key="src", Body=body)
    result = s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "src"},
                            ChecksumAlgorithm="CRC32C")
    expected = base64.b64encode(checksums.crc32c(body).to_bytes(4, "big")).decode()
    assert result["CopyObjectResult"]["ChecksumCRC32C"] == expected
    head = s3.head_object(Bucket=bucket, Key="dst", ChecksumMode="ENABLED")
    assert head["ChecksumCRC32C"] == expected


def test_upload_part_copy_range_beyond_the_source_is_refused(s3, bucket):
    """UploadPartCopy with x-amz-copy-source-range past the end of the source: 400
    InvalidArgument (API_UploadPartCopy, x-amz-copy-source-range)."""
    s3.put_object(Bucket=bucket, Key="small", Body=b"0123456789")
    upload = s3.create_multipart_upload(Bucket=bucket, Key="dst")["UploadId"]
    with pytest.raises(ClientError) as err:
        s3.upload_part_copy(Bucket=bucket, Key="dst", UploadId=upload, PartNumber=1,
                            CopySource={"Bucket": bucket, "Key": "small"}, CopySourceRange="bytes=0-99")
    assert err.value.response["Error"]["Code"] == "InvalidArgument"
    ok = s3.upload_part_copy(Bucket=bucket, Key="dst", UploadId=upload, PartNumber=1,
                             CopySource={"Bucket": bucket, "Key": "small"}, CopySourceRange="bytes=0-9")
    assert ok["CopyPartResult"]["ETag"]


def test_upload_part_copy_returns_the_part_checksum(s3, bucket):
    """CopyPartResult carries the part's checksum when the upload has a checksum algorithm
    (API_UploadPartCopy, CopyPartResult ChecksumSHA256)."""
    body = b"x" * PART
    s3.put_object(Bucket=bucket, Key="src", Body=body)
    upload = s3.create_multipart_upload(Bucket=bucket, Key="dst", ChecksumAlgorithm="SHA256")["UploadId"]
    result = s3.upload_part_copy(Bucket=bucket, Key="dst", UploadId=upload, PartNumber=1,
                                 CopySource={"Bucket": bucket, "Key": "src"})["CopyPartResult"]
    assert result["ChecksumSHA256"] == base64.b64encode(hashlib.sha256(body).digest()).decode()


def test_objects_get_sse_s3_by_default(s3, bucket):
    """Every bucket has SSE-S3 as its base encryption: objects written without encryption
    headers report AES256 and GetBucketEncryption answers the default configuration.
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/default-encryption-faq.html"""
    assert s3.put_object(Bucket=bucket, Key="k", Body=b"x")["ServerSideEncryption"] == "AES256"
    assert s3.head_object(Bucket=bucket, Key="k")["ServerSideEncryption"] == "AES256"
    rule = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
