"""Uploads whose additional checksum does not match the body are refused (BadDigest)."""

from __future__ import annotations

import base64
import hashlib

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
    assert cloud.sim["checksums"].status() == {"checked": 1, "refused": 1}


def test_mismatched_part_checksum_is_refused(cloud, s3, bucket_name) -> None:
    bucket = bucket_name()
    s3.create_bucket(Bucket=bucket)
    upload = s3.create_multipart_upload(Bucket=bucket, Key="big", ChecksumAlgorithm="SHA256")
    with pytest.raises(ClientError) as exc:
        s3.upload_part(Bucket=bucket, Key="big", UploadId=upload["UploadId"], PartNumber=1,
                       Body=b"x" * 1024, ChecksumSHA256=b64sha256(b"y" * 1024))
    assert exc.value.response["Error"]["Code"] == "BadDigest"
