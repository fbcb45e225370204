"""The archive store's conditional put (If-None-Match: *) against moto."""

from __future__ import annotations

import io

import pytest
from botocore.exceptions import ClientError

from drills.errors import InfraError
from drills.ingest.checksum import digest_stream
from drills.ingest.store import ArchiveStore


@pytest.fixture
def store(ingest_env) -> ArchiveStore:
    return ArchiveStore(ingest_env.target, ingest_env.region, ingest_env.archive_bucket, None, 8 * 1024 * 1024)


def put(store: ArchiveStore, key: str, data: bytes, *, if_absent: bool = False):
    write = store.put_if_absent if if_absent else store.put
    return write(key, io.BytesIO(data), digest_stream(io.BytesIO(data), len(data)))


def test_conditional_put_creates_a_new_key(store, ingest_env) -> None:
    stored = put(store, "dicom/a", b"first", if_absent=True)
    assert stored is not None and stored.version_id
    assert ingest_env.get("dicom/a") == b"first"
    head = ingest_env.s3.head_object(Bucket=ingest_env.archive_bucket, Key="dicom/a", ChecksumMode="ENABLED")
    assert head["VersionId"] == stored.version_id
    assert stored.checksum_sha256 == head["ChecksumSHA256"]


def test_conditional_put_on_a_current_version_writes_nothing(store, ingest_env) -> None:
    first = put(store, "dicom/a", b"first")
    assert put(store, "dicom/a", b"other bytes", if_absent=True) is None
    assert [v["VersionId"] for v in ingest_env.versions("dicom/a")] == [first.version_id]
    assert ingest_env.get("dicom/a") == b"first"


def test_conditional_put_over_a_delete_marker_creates_a_version(store, ingest_env) -> None:
    put(store, "dicom/a", b"first")
    ingest_env.s3.delete_object(Bucket=ingest_env.archive_bucket, Key="dicom/a")
    again = put(store, "dicom/a", b"again", if_absent=True)
    # moto 5.2 treats a delete marker as "no object" here; the ingest core handles a 412 too
    assert again is not None and ingest_env.get("dicom/a") == b"again"
    assert len(ingest_env.versions("dicom/a")) == 2


@pytest.mark.parametrize("code", ["PreconditionFailed", "ConditionalRequestConflict"])
def test_precondition_answers_mean_the_key_exists(store, monkeypatch, code: str) -> None:
    def refuse(**_):
        raise ClientError({"Error": {"Code": code, "Message": "no"}}, "PutObject")

    monkeypatch.setattr(store._s3, "put_object", refuse)
    assert put(store, "dicom/a", b"x", if_absent=True) is None
    with pytest.raises(InfraError, match=code):         # without if_absent it is a failure
        put(store, "dicom/a", b"x")


def test_other_errors_of_a_conditional_put_are_infrastructure_errors(ingest_env) -> None:
    store = ArchiveStore(ingest_env.target, ingest_env.region, "no-such-bucket-drkit", None, 8 * 1024 * 1024)
    with pytest.raises(InfraError, match="NoSuchBucket"):
        put(store, "dicom/a", b"x", if_absent=True)


def test_conditional_put_is_single_part_only(store) -> None:
    data = b"y" * (6 * 1024 * 1024)
    digest = digest_stream(io.BytesIO(data), len(data), 5 * 1024 * 1024)
    with pytest.raises(ValueError, match="single PUT"):
        store.put_if_absent("dicom/big", io.BytesIO(data), digest)


def test_a_multipart_uploads_version_is_found_behind_many_newer_ones(store, ingest_env) -> None:
    """s3transfer does not return CompleteMultipartUpload's answer, so the store finds its version
    by listing: every version of the key, newest first (ListObjectVersions lists "versions ... in
    the order of most recent first", https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectVersions.html),
    across pages, and none of a longer key the prefix also matches."""
    written = [put(store, "dicom/k.dcm", f"v{n}".encode()).version_id for n in range(25)]
    put(store, "dicom/k.dcm.bak", b"other key")
    assert list(store._recent_versions("dicom/k.dcm", limit=10)) == written[::-1]
    assert next(iter(store._recent_versions("dicom/k.dcm", limit=10))) == written[-1]
