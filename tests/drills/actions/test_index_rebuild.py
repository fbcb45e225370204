"""RangedObject: the index rebuild reads a header through ranged GETs only.

AWS: GetObject with ``Range: bytes=first-last`` returns just those bytes
(https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html)."""

from __future__ import annotations

import io

from drills.actions.index_rebuild import RangedObject, claims_of
from drills.contracts import IndexItem


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


def test_read_claims_skips_the_completeness_marker(monkeypatch) -> None:
    """The claims ``index-snapshot`` reads for ``compare-rebuilt-index`` hold claims only: the
    marker (a key no UID can be, PS3.5 §9) is no claim. Scan
    (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_Scan.html) returns it like any item."""
    import boto3
    from moto import mock_aws

    from drills.actions.index_rebuild import read_claims
    from drills.contracts import CLAIMS_COMPLETE_MARKER, CLAIMS_TABLE_DEFINITION

    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        ddb.create_table(TableName="claims", BillingMode="PAY_PER_REQUEST", **CLAIMS_TABLE_DEFINITION)
        ddb.put_item(TableName="claims", Item={"SOPInstanceUID": {"S": "7.7"}, "StudyInstanceUID": {"S": "1.2"},
                                               "SeriesSop": {"S": "9.9/7.7"}})
        ddb.put_item(TableName="claims", Item={"SOPInstanceUID": {"S": CLAIMS_COMPLETE_MARKER},
                                               "WrittenAt": {"S": "2026-01-01T00:00:00Z"}, "WrittenBy": {"S": "x"}})
        assert read_claims(ddb, "claims") == {"7.7": ("1.2", "9.9/7.7")}
