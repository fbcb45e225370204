"""drills.actions.index_rebuild: RangedObject reads a header through ranged GETs only; the
rebuilt claims (first writer holds a UID; written with retries, then marked complete).

AWS: GetObject with ``Range: bytes=first-last`` returns just those bytes
(https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html)."""

from __future__ import annotations

import io
from datetime import datetime, timezone

import pytest

from drills.actions.index_rebuild import RangedObject, claims_of, read_claims, write_claims
from drills.contracts import CLAIMS_COMPLETE_MARKER, CLAIMS_TABLE_DEFINITION, IndexItem
from drills.errors import InfraError


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


def _item(study: str, sop: str, ingested_at: str) -> IndexItem:
    return IndexItem(study_instance_uid=study, series_instance_uid="9.9", sop_instance_uid=sop, sop_class_uid="1.2",
                     modality="CT", specialty="radiology", study_date="", size=1, checksum_sha256="", version_id="v",
                     key=f"dicom/{study}/9.9/{sop}.dcm", patient_id_hash="", accession_hash="",
                     transfer_syntax_uid="1.2.840.10008.1.2.1", ingested_at=ingested_at, content_sha256="",
                     checksum_type="")


def test_rebuilt_claims_go_to_the_instance_written_first() -> None:
    """One claim per SOP Instance UID, held by the earliest object (as the first ingest
    claimed it); the later ones are counted as reused, whatever the listing order."""
    items = [_item("1.3", "7.7", "2024-01-02T00:00:00Z"), _item("1.1", "8.8", "2024-01-05T00:00:00Z"),
             _item("1.2", "7.7", "2024-01-01T00:00:00Z"), _item("1.4", "7.7", "2024-01-01T00:00:00Z")]
    claims, reused = claims_of(items)
    assert claims == {"7.7": ("1.2", "9.9/7.7"), "8.8": ("1.1", "9.9/8.8")} and reused == 2
    assert claims_of(list(reversed(items))) == (claims, reused)


def test_read_claims_skips_the_completeness_marker(claims_table) -> None:
    """The claims ``index-snapshot`` reads for ``compare-rebuilt-index`` hold claims only: the
    marker (a key no UID can be, PS3.5 §9) is no claim. Scan
    (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_Scan.html) returns it like any item."""
    claims_table.put_item(TableName="claims", Item={"SOPInstanceUID": {"S": "7.7"}, "StudyInstanceUID": {"S": "1.2"},
                                                    "SeriesSop": {"S": "9.9/7.7"}})
    claims_table.put_item(TableName="claims", Item={"SOPInstanceUID": {"S": CLAIMS_COMPLETE_MARKER},
                                                    "WrittenAt": {"S": "2026-01-01T00:00:00Z"}, "WrittenBy": {"S": "x"}})
    assert read_claims(claims_table, "claims") == {"7.7": ("1.2", "9.9/7.7")}


class _Unprocessed:
    """BatchWriteItem leaves all but the first item unprocessed for ``rounds`` requests
    (``rounds=None``: every item, always), as DynamoDB does when throttled."""

    def __init__(self, real, rounds: int | None) -> None:
        self.real, self.rounds, self.batch_writes = real, rounds, 0

    def __getattr__(self, name):
        return getattr(self.real, name)

    def batch_write_item(self, RequestItems):
        self.batch_writes += 1
        (table, requests), = RequestItems.items()
        if self.rounds is None:
            return {"UnprocessedItems": RequestItems}
        if self.rounds == 0:
            return self.real.batch_write_item(RequestItems=RequestItems)
        self.rounds -= 1
        self.real.batch_write_item(RequestItems={table: requests[:1]})
        return {"UnprocessedItems": {table: requests[1:]}}


@pytest.fixture
def claims_table(monkeypatch):
    import boto3
    from moto import mock_aws

    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        ddb.create_table(TableName="claims", BillingMode="PAY_PER_REQUEST", **CLAIMS_TABLE_DEFINITION)
        yield ddb


NOW = datetime(2026, 5, 6, 7, 8, 9, tzinfo=timezone.utc)


def test_rebuilt_claims_retry_unprocessed_items_with_backoff_then_mark_the_table_complete(claims_table) -> None:
    """BatchWriteItem's ``UnprocessedItems`` are sent again after an exponential backoff
    (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_BatchWriteItem.html);
    the rebuilt table then carries the completeness marker, so ingest would trust it."""
    claims = {f"7.{n}": ("1.2", f"9.9/7.{n}") for n in range(30)}
    ddb, sleeps = _Unprocessed(claims_table, rounds=2), []
    write_claims(ddb, "claims", claims, NOW, sleep=sleeps.append)
    assert ddb.batch_writes == 4 and sleeps == [0.05, 0.1]          # 25 + 5 items; the first batch thrice
    assert read_claims(claims_table, "claims") == claims
    marker = claims_table.get_item(TableName="claims", Key={"SOPInstanceUID": {"S": CLAIMS_COMPLETE_MARKER}})
    assert marker["Item"]["WrittenBy"] == {"S": "drkit rebuild-index"}
    assert marker["Item"]["WrittenAt"] == {"S": "2026-05-06T07:08:09Z"}


def test_rebuilt_claims_still_unprocessed_fail_without_a_marker(claims_table) -> None:
    ddb = _Unprocessed(claims_table, rounds=None)
    with pytest.raises(InfraError, match="2 claim\\(s\\) still unprocessed after 8 BatchWriteItem requests"):
        write_claims(ddb, "claims", {"7.1": ("1.2", "9.9/7.1"), "7.2": ("1.2", "9.9/7.2")}, NOW, sleep=lambda s: None)
    assert ddb.batch_writes == 8
    assert "Item" not in claims_table.get_item(TableName="claims", Key={"SOPInstanceUID": {"S": CLAIMS_COMPLETE_MARKER}})
