"""A multi-hundred-MB instance streams through ingest with bounded memory, in parts.

moto keeps uploaded parts in memory, so it runs as a separate server process here: the
tracemalloc peak below is ingest's own (reader, hashing, s3transfer, botocore), not moto's.
"""

from __future__ import annotations

import math
import struct
import tracemalloc
from pathlib import Path

import pytest

from drills.aws import Target
from drills.contracts import HASH_KEY_SECRET_TAGS, INDEX_PARTITION_KEY, INDEX_SORT_KEY
from drills.ingest.core import IngestDestination, Ingestor, Outcome
from drills.ingest.pseudonym import Pseudonymizer

from .conftest import REGION, build_dataset, new_name, to_bytes

PIXEL_BYTES = 300 * 1024 * 1024
PEAK_LIMIT = 64 * 1024 * 1024


def large_instance(path: Path) -> int:
    """A valid CT header, then Pixel Data declaring PIXEL_BYTES, written sparse."""
    header = to_bytes(build_dataset(rows=10240, columns=15360, pixels=False))
    element = struct.pack("<HH2sHL", 0x7FE0, 0x0010, b"OW", 0, PIXEL_BYTES)
    with path.open("wb") as fp:
        fp.write(header + element)
        fp.truncate(len(header) + len(element) + PIXEL_BYTES)
    return path.stat().st_size


@pytest.mark.slow
def test_large_file_streams_in_parts_with_bounded_memory(moto_server: Target, tmp_path: Path) -> None:
    s3, ddb = moto_server.client("s3", REGION), moto_server.client("dynamodb", REGION)
    bucket, table = new_name("archive"), new_name("index")
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    ddb.create_table(TableName=table, BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": INDEX_PARTITION_KEY, "KeyType": "HASH"},
                                {"AttributeName": INDEX_SORT_KEY, "KeyType": "RANGE"}],
                     AttributeDefinitions=[{"AttributeName": INDEX_PARTITION_KEY, "AttributeType": "S"},
                                           {"AttributeName": INDEX_SORT_KEY, "AttributeType": "S"}])
    moto_server.client("secretsmanager", REGION).create_secret(
        Name=new_name("hash-key"), SecretString="s" * 32,
        Tags=[{"Key": k, "Value": v} for k, v in HASH_KEY_SECRET_TAGS.items()])
    path = tmp_path / "wsi.dcm"
    size = large_instance(path)
    ingestor = Ingestor(IngestDestination(moto_server, REGION, bucket, table),
                        Pseudonymizer.from_secret(moto_server, REGION))

    tracemalloc.start()
    try:
        result = ingestor.ingest_file(path, "wsi.dcm")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert result.outcome is Outcome.ARCHIVED, result.detail
    assert result.header_bytes_read < 128 * 1024, "the header, not the pixels, was read for parsing"
    assert peak < PEAK_LIMIT, f"peak {peak / 2**20:.0f} MiB while ingesting {size / 2**20:.0f} MiB"
    head = s3.head_object(Bucket=bucket, Key=result.key, ChecksumMode="ENABLED")
    parts = math.ceil(size / (8 * 1024 * 1024))
    assert head["ContentLength"] == size
    assert head["ETag"].strip('"').endswith(f"-{parts}"), "uploaded in parts"
    item = ddb.get_item(TableName=table, Key={INDEX_PARTITION_KEY: {"S": result.study_instance_uid},
                                              INDEX_SORT_KEY: {"S": result.key.removesuffix(".dcm").split("/", 2)[2]}})["Item"]
    assert item["ChecksumType"]["S"] == "COMPOSITE" and item["PartCount"]["N"] == str(parts)
