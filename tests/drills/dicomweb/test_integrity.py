"""The archive's SHA-256 is checked on the way out: a mismatch is never served silently."""

from __future__ import annotations

import base64
import hashlib
import io
from dataclasses import replace

import httpx
import pytest

from drills.dicomweb import retrieve
from tests.helpers.dicomweb import ITEM

class FakeSource:
    """Serves fixed bytes for every item (what S3 would stream)."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def open(self, item):
        return io.BytesIO(self.data)


def _sha(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def test_stream_holds_back_the_last_chunk_until_the_hash_matched(monkeypatch):
    monkeypatch.setattr(retrieve, "CHUNK", 4)
    good = b"0123456789abcdef"
    item = replace(ITEM, content_sha256=_sha(good))
    body = b"".join(retrieve.stream_instances(FakeSource(good), [item], "b", "http://x"))
    assert good in body and body.endswith(b"--b--\r\n")

    rotten = b"0123456789abcdeX"
    sent: list[bytes] = []
    with pytest.raises(retrieve.IntegrityError):
        for chunk in retrieve.stream_instances(FakeSource(rotten), [item], "b", "http://x"):
            sent.append(chunk)
    received = b"".join(sent)
    assert b"0123456789ab" in received            # streamed as it came ...
    assert b"cdeX" not in received                # ... but the part never completes
    assert b"--b--" not in received               # and the multipart body never closes


def test_verified_copy_refuses_a_mismatch():
    item = replace(ITEM, content_sha256=_sha(b"expected"))
    with retrieve.verified_copy(FakeSource(b"expected"), item) as copy:
        assert copy.read() == b"expected"
    with pytest.raises(retrieve.IntegrityError):
        retrieve.verified_copy(FakeSource(b"tampered"), item)
    with pytest.raises(retrieve.IntegrityError):       # nothing to check against is no pass
        retrieve.verified_copy(FakeSource(b"expected"), replace(item, content_sha256=""))


@pytest.mark.slow
def test_an_instance_whose_checksum_disagrees_is_withheld_with_a_warning(served, primary_url):
    """The index's ContentSHA256 no longer matches what S3 stored for the version: the
    instance is withheld (500 alone, Warning within its study), never served."""
    ddb = served.cloud.target.client("dynamodb", served.outputs.primaryRegion)
    entry = next(e for e in served.manifest.entries if e.modality == "MR")
    key = {"StudyInstanceUID": {"S": entry.study_instance_uid},
           "SeriesSop": {"S": f"{entry.series_instance_uid}/{entry.sop_instance_uid}"}}
    table = served.outputs.indexTable
    original = ddb.get_item(TableName=table, Key=key, ConsistentRead=True)["Item"]["ContentSHA256"]
    ddb.update_item(TableName=table, Key=key, UpdateExpression="SET ContentSHA256 = :x",
                    ExpressionAttributeValues={":x": {"S": _sha(b"something else")}})
    try:
        with httpx.Client(base_url=primary_url, headers=served.headers(), timeout=60) as http:
            alone = http.get(f"/studies/{entry.study_instance_uid}/series/{entry.series_instance_uid}"
                             f"/instances/{entry.sop_instance_uid}")
            assert alone.status_code == 500 and "integrity" in alone.headers["warning"]
            study = http.get(f"/studies/{entry.study_instance_uid}")
            assert study.status_code == 200 and "1 instance(s) failed" in study.headers["warning"]
            siblings = [e for e in served.manifest.entries if e.study_instance_uid == entry.study_instance_uid]
            assert study.content.count(b"Content-Type: application/dicom") == len(siblings) - 1
            meta = http.get(f"/studies/{entry.study_instance_uid}/metadata")
            assert len(meta.json()) == len(siblings) - 1 and "integrity" in meta.headers["warning"]
    finally:
        ddb.update_item(TableName=table, Key=key, UpdateExpression="SET ContentSHA256 = :x",
                        ExpressionAttributeValues={":x": original})
