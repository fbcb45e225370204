"""Full-object and composite SHA-256 the way S3 reports them."""

from __future__ import annotations

import base64
import hashlib
import io
import os

import pytest

from drills.ingest.checksum import digest_stream


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def test_single_part_digest() -> None:
    data = b"dicom" * 1000
    digest = digest_stream(io.BytesIO(data), len(data))
    assert digest.full_b64 == b64(hashlib.sha256(data).digest())
    assert digest.composite_b64 is None
    assert digest.expected == digest.full_b64
    assert digest.matches(digest.full_b64)
    assert not digest.matches(b64(hashlib.sha256(b"other").digest()))
    assert not digest.matches(None)


@pytest.mark.parametrize("size, part", [(3 * 1024 * 1024 + 7, 1024 * 1024), (2 * 1024 * 1024, 1024 * 1024),
                                        (2_500_000, 1_000_000), (10, 1024)])
def test_composite_is_sha256_of_part_digests(size: int, part: int) -> None:
    data = os.urandom(size)
    digest = digest_stream(io.BytesIO(data), size, part)
    parts = [hashlib.sha256(data[i:i + part]).digest() for i in range(0, size, part)]
    expected = f"{b64(hashlib.sha256(b''.join(parts)).digest())}-{len(parts)}"
    assert digest.composite_b64 == expected == digest.expected
    assert digest.full_b64 == b64(hashlib.sha256(data).digest())
    assert digest.matches(expected) and digest.matches(expected.split("-")[0])   # moto omits "-N"
    assert not digest.matches(expected.split("-")[0] + "-99")
    assert digest.matches(digest.full_b64)


def test_short_input_raises_oserror() -> None:
    with pytest.raises(OSError, match="ended after 3 of 10"):
        digest_stream(io.BytesIO(b"abc"), 10)
