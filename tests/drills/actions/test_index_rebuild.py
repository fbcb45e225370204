"""RangedObject: the index rebuild reads a header through ranged GETs only.

AWS: GetObject with ``Range: bytes=first-last`` returns just those bytes
(https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html)."""

from __future__ import annotations

import io

from drills.actions.index_rebuild import RangedObject


class _FakeS3:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.ranges: list[str] = []

    def get_object(self, Bucket: str, Key: str, Range: str, VersionId: str | None = None) -> dict:
        self.ranges.append(Range)
        first, last = (int(x) for x in Range.removeprefix("bytes=").split("-"))
        return {"Body": io.BytesIO(self.data[first:last + 1])}


def test_reads_are_ranged_gets_of_exactly_the_bytes_asked_for() -> None:
    s3 = _FakeS3(bytes(range(256)) * 4)
    obj = RangedObject(s3, "b", "k", "v1", 1024)
    assert obj.read(10) == bytes(range(10))
    obj.seek(1000)
    assert obj.read(100) == (bytes(range(256)) * 4)[1000:]         # clipped at the end of the object
    assert obj.read(5) == b""                                        # past the end: no request
    assert s3.ranges == ["bytes=0-9", "bytes=1000-1023"] and obj.requests == 2
