"""The ingest core against moto: archive, duplicate, conflict, quarantine, index, failures."""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json

import pytest
from botocore.exceptions import ClientError
from pydicom.uid import ExplicitVRLittleEndian

from drills.contracts import (
    INDEX_ATTRIBUTES,
    INDEX_PARTITION_KEY,
    INDEX_SORT_KEY,
    MODALITY_TAG,
    SPECIALTY_TAG,
    IndexItem,
    archive_key,
    quarantine_key,
    quarantine_reason_key,
)
from drills.errors import InfraError, UsageError
from drills.ingest.core import IngestDestination, Ingestor, Outcome

from .conftest import ACCESSION, HASH_KEY, PATIENT_ID, PATIENT_NAME, build_dataset, to_bytes


def sha256_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def test_archives_with_key_checksum_tags_and_kms(ingest_env) -> None:
    ds = build_dataset(modality="US")
    data = to_bytes(ds)
    result = ingest_env.ingestor(kms=True).ingest_bytes(data, "site-a/us-1.dcm")

    key = archive_key(ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID)
    assert result.outcome is Outcome.ARCHIVED
    assert result.key == key
    assert result.source == "site-a/us-1.dcm"
    assert result.size == len(data)
    assert result.sop_instance_uid == ds.SOPInstanceUID and result.modality == "US"
    head = ingest_env.s3.head_object(Bucket=ingest_env.archive_bucket, Key=key, ChecksumMode="ENABLED")
    assert head["ChecksumSHA256"] == sha256_b64(data) == result.checksum_sha256
    assert head["VersionId"] == result.version_id
    assert head["ServerSideEncryption"] == "aws:kms"
    assert head["SSEKMSKeyId"].endswith(ingest_env.kms_key_id)
    assert head["ContentType"] == "application/dicom"
    tags = ingest_env.s3.get_object_tagging(Bucket=ingest_env.archive_bucket, Key=key)["TagSet"]
    assert {t["Key"]: t["Value"] for t in tags} == {SPECIALTY_TAG: "cardiology", MODALITY_TAG: "US"}
    assert ingest_env.get(key) == data


def test_index_item_is_complete_and_free_of_patient_identifiers(ingest_env) -> None:
    ds = build_dataset()
    data = to_bytes(ds)
    result = ingest_env.ingestor().ingest_bytes(data, "x.dcm")

    raw_items = ingest_env.index_items()
    assert len(raw_items) == 1
    assert PATIENT_ID not in json.dumps(raw_items) and PATIENT_NAME not in json.dumps(raw_items)
    assert ACCESSION not in json.dumps(raw_items)
    item = ingest_env.index_item(ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID)
    missing = [a for a in (INDEX_PARTITION_KEY, INDEX_SORT_KEY, *INDEX_ATTRIBUTES) if a not in item]
    assert not missing, missing
    assert item[INDEX_SORT_KEY] == f"{ds.SeriesInstanceUID}/{ds.SOPInstanceUID}"
    assert item["Modality"] == "CT" and item["Specialty"] == "radiology"
    assert item["Size"] == len(data)
    assert item["ChecksumSHA256"] == item["ContentSHA256"] == sha256_b64(data)
    assert item["ChecksumType"] == "FULL_OBJECT"
    assert item["VersionId"] == result.version_id
    assert item["Key"] == result.key
    assert item["StudyDate"] == "20240102"
    assert item["TransferSyntaxUID"] == ExplicitVRLittleEndian
    assert item["PatientIdHash"] == hmac.new(HASH_KEY.encode(), PATIENT_ID.encode(), hashlib.sha256).hexdigest()
    assert item["AccessionHash"] == hmac.new(HASH_KEY.encode(), ACCESSION.encode(), hashlib.sha256).hexdigest()
    assert item["IngestedAt"].endswith("Z")
    assert "Conflicts" not in item
    # which version of the hash-key secret made the hashes (so the key can be rotated)
    secret = ingest_env.target.client("secretsmanager", ingest_env.region).get_secret_value(
        SecretId=ingest_env.secret_arn)
    assert item["HashKeyVersion"] == secret["VersionId"]
    # the contract's IndexItem names every attribute ingest writes, no more, no less
    assert set(item) == {INDEX_PARTITION_KEY, INDEX_SORT_KEY, *INDEX_ATTRIBUTES, "HashKeyVersion"}
    typed = IndexItem.from_item(item)
    assert typed.missing == () and typed.to_item() == item


def test_same_bytes_again_is_a_duplicate_no_op(ingest_env) -> None:
    data = to_bytes(build_dataset())
    ingestor = ingest_env.ingestor()
    first = ingestor.ingest_bytes(data, "a.dcm")
    second = ingestor.ingest_bytes(data, "copy-of-a.dcm")
    assert second.outcome is Outcome.DUPLICATE
    assert second.version_id == first.version_id and second.key == first.key
    assert len(ingest_env.versions(first.key)) == 1


def test_different_bytes_for_one_instance_is_a_conflict_and_a_new_version(ingest_env) -> None:
    ds = build_dataset()
    original = to_bytes(ds)
    ds.ImageComments = "re-sent after correction"
    changed = to_bytes(ds)
    ingestor = ingest_env.ingestor()
    first = ingestor.ingest_bytes(original, "a.dcm")
    second = ingestor.ingest_bytes(changed, "a-corrected.dcm")

    assert second.outcome is Outcome.CONFLICT
    assert second.key == first.key and second.version_id != first.version_id
    versions = ingest_env.versions(first.key)
    assert {v["VersionId"] for v in versions} == {first.version_id, second.version_id}
    assert ingest_env.get(first.key, first.version_id) == original     # never a silent overwrite
    assert ingest_env.get(first.key) == changed
    item = ingest_env.index_item(ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID)
    assert item["VersionId"] == second.version_id
    assert item["ChecksumSHA256"] == sha256_b64(changed)
    assert item["ConflictCount"] == 1
    (conflict,) = item["Conflicts"]
    assert conflict["PreviousVersionId"] == first.version_id
    assert conflict["PreviousChecksumSHA256"] == sha256_b64(original)
    assert conflict["VersionId"] == second.version_id
    # the corrected bytes once more: a duplicate of the latest version
    assert ingestor.ingest_bytes(changed, "again.dcm").outcome is Outcome.DUPLICATE
    # and the original once more: another conflict, recorded
    third = ingestor.ingest_bytes(original, "old.dcm")
    assert third.outcome is Outcome.CONFLICT
    item = ingest_env.index_item(ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID)
    assert item["ConflictCount"] == 2 and len(item["Conflicts"]) == 2


def test_every_quarantine_reason_stores_bytes_and_reason(ingest_env, malformed) -> None:
    ingestor = ingest_env.ingestor()
    for name, (reason, data) in malformed.items():
        result = ingestor.ingest_bytes(data, f"bad/{name}")
        digest = hashlib.sha256(data).hexdigest()
        assert result.outcome is Outcome.QUARANTINED, name
        assert result.reason is reason, f"{name}: {result.detail}"
        assert result.key == quarantine_key(digest)
        assert ingest_env.get(result.key) == data, name
        document = ingest_env.reason(digest)
        assert document["reason"] == reason.value and document["source"] == f"bad/{name}"
        assert document["size"] == len(data) and document["sha256"] == digest
        head = ingest_env.s3.head_object(Bucket=ingest_env.archive_bucket, Key=result.key, ChecksumMode="ENABLED")
        assert head["ChecksumSHA256"] == sha256_b64(data)
    assert not ingest_env.index_items(), "quarantined inputs are not indexed"


def test_quarantining_the_same_bytes_twice_writes_once(ingest_env, malformed) -> None:
    _, data = malformed["truncated-pixel-data"]
    ingestor = ingest_env.ingestor()
    first = ingestor.ingest_bytes(data, "a")
    second = ingestor.ingest_bytes(data, "b")
    assert second.outcome is Outcome.QUARANTINED and second.version_id == first.version_id
    assert "already quarantined" in second.detail
    assert len(ingest_env.versions(first.key)) == 1
    assert len(ingest_env.versions(quarantine_reason_key(hashlib.sha256(data).hexdigest()))) == 1


def test_missing_index_item_is_repaired_on_duplicate(ingest_env) -> None:
    ds = build_dataset()
    data = to_bytes(ds)
    ingestor = ingest_env.ingestor()
    first = ingestor.ingest_bytes(data, "a.dcm")
    from drills.ingest.index import StudyIndex
    ingest_env.ddb.delete_item(TableName=ingest_env.index_table,
                               Key=StudyIndex.key(ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID))
    again = ingestor.ingest_bytes(data, "a.dcm")
    assert again.outcome is Outcome.DUPLICATE and "repaired" in again.detail
    item = ingest_env.index_item(ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID)
    assert item["VersionId"] == first.version_id


def test_deleted_archive_object_is_archived_again(ingest_env) -> None:
    data = to_bytes(build_dataset())
    ingestor = ingest_env.ingestor()
    first = ingestor.ingest_bytes(data, "a.dcm")
    ingest_env.s3.delete_object(Bucket=ingest_env.archive_bucket, Key=first.key)   # a delete marker
    again = ingestor.ingest_bytes(data, "a.dcm")
    assert again.outcome is Outcome.ARCHIVED and again.version_id != first.version_id
    assert ingest_env.get(first.key) == data


def test_file_and_stream_entry_points(ingest_env, tmp_path) -> None:
    ingestor = ingest_env.ingestor()
    path = tmp_path / "ct.dcm"
    path.write_bytes(to_bytes(build_dataset()))
    from_file = ingestor.ingest_file(path, "ct.dcm")
    assert from_file.outcome is Outcome.ARCHIVED and ingest_env.get(from_file.key) == path.read_bytes()
    assert ingestor.ingest_file(path).source == str(path)
    other = to_bytes(build_dataset())
    from_stream = ingestor.ingest_stream(io.BufferedReader(io.BytesIO(other)), "stream", size=len(other))
    assert from_stream.outcome is Outcome.ARCHIVED and ingest_env.get(from_stream.key) == other


def test_a_stream_that_ends_early_is_an_infrastructure_error(ingest_env) -> None:
    data = to_bytes(build_dataset())
    with pytest.raises(InfraError, match="ended after"):
        ingest_env.ingestor().ingest_stream(io.BytesIO(data[:100]), "s3://landing/x", size=len(data))
    assert not ingest_env.index_items()


def test_unreadable_local_file_is_a_usage_error(ingest_env, tmp_path) -> None:
    with pytest.raises(UsageError, match="nope.dcm"):
        ingest_env.ingestor().ingest_file(tmp_path / "nope.dcm")


def test_missing_bucket_raises_infra_error_and_stores_nothing(ingest_env) -> None:
    dest = IngestDestination(ingest_env.target, ingest_env.region, "no-such-bucket-drkit", ingest_env.index_table)
    ingestor = Ingestor(dest, ingest_env.pseudonymizer())
    with pytest.raises(InfraError, match="NoSuchBucket"):
        ingestor.ingest_bytes(to_bytes(build_dataset()), "a.dcm")
    assert not ingest_env.index_items()


def test_missing_table_raises_infra_error(ingest_env) -> None:
    dest = IngestDestination(ingest_env.target, ingest_env.region, ingest_env.archive_bucket, "no-such-table")
    with pytest.raises(InfraError, match="ResourceNotFoundException"):
        Ingestor(dest, ingest_env.pseudonymizer()).ingest_bytes(to_bytes(build_dataset()), "a.dcm")


def test_multipart_upload_records_a_composite_checksum(ingest_env) -> None:
    ds = build_dataset(rows=1024, columns=2600)                    # ~5.3 MB of pixels: two parts
    data = to_bytes(ds)
    ingestor = ingest_env.ingestor(multipart_threshold=5 * 1024 * 1024)
    result = ingestor.ingest_bytes(data, "big.dcm")
    assert result.outcome is Outcome.ARCHIVED
    assert ingest_env.get(result.key) == data
    part = 5 * 1024 * 1024
    digests = [hashlib.sha256(data[i:i + part]).digest() for i in range(0, len(data), part)]
    composite = base64.b64encode(hashlib.sha256(b"".join(digests)).digest()).decode()
    head = ingest_env.s3.head_object(Bucket=ingest_env.archive_bucket, Key=result.key, ChecksumMode="ENABLED")
    assert head["ChecksumSHA256"].split("-")[0] == composite
    item = ingest_env.index_item(ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID)
    assert item["ChecksumType"] == "COMPOSITE"
    assert item["PartSize"] == part and item["PartCount"] == 2
    assert item["ContentSHA256"] == sha256_b64(data)
    assert ingestor.ingest_bytes(data, "big-again.dcm").outcome is Outcome.DUPLICATE
    # an ingestor with another part size cannot compare composites: the index decides
    other = ingest_env.ingestor(multipart_threshold=6 * 1024 * 1024)
    assert other.ingest_bytes(data, "big-third.dcm").outcome is Outcome.DUPLICATE
    assert len(ingest_env.versions(result.key)) == 1



def test_conflict_whose_index_update_failed_is_recorded_on_retry(ingest_env, monkeypatch) -> None:
    ds = build_dataset()
    original = to_bytes(ds)
    ds.ImageComments = "changed"
    changed = to_bytes(ds)
    ingestor = ingest_env.ingestor()
    first = ingestor.ingest_bytes(original, "a.dcm")

    real_record = ingestor._index.record

    def failing_record(*args, **kwargs):
        raise InfraError("index unavailable")

    monkeypatch.setattr(ingestor._index, "record", failing_record)
    with pytest.raises(InfraError, match="index unavailable"):
        ingestor.ingest_bytes(changed, "a.dcm")          # the new version is written, the index is not
    monkeypatch.setattr(ingestor._index, "record", real_record)

    retry = ingestor.ingest_bytes(changed, "a.dcm")     # e.g. SQS redelivery
    assert retry.outcome is Outcome.DUPLICATE and "repaired" in retry.detail
    item = ingest_env.index_item(ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID)
    assert item["VersionId"] == retry.version_id != first.version_id
    assert item["ConflictCount"] == 1
    assert item["Conflicts"][0]["PreviousVersionId"] == first.version_id


# --------------------------------------------------------------------------- conditional put + group commit


@pytest.fixture
def s3_calls(ingest_env):
    """(operation, params) of every S3 call made through ingest's client during a test."""
    from drills.ingest.clients import ingest_client
    calls: list[tuple[str, dict]] = []

    def record(params, model, **_):
        calls.append((model.name, dict(params)))

    events = ingest_client(ingest_env.target, "s3", ingest_env.region).meta.events
    events.register("before-parameter-build.s3", record)
    yield calls
    events.unregister("before-parameter-build.s3", record)


def test_a_new_instance_is_one_conditional_put_without_a_head(ingest_env, s3_calls) -> None:
    result = ingest_env.ingestor().ingest_bytes(to_bytes(build_dataset()), "a.dcm")
    assert result.outcome is Outcome.ARCHIVED
    assert [op for op, _ in s3_calls] == ["PutObject"]
    assert s3_calls[0][1]["IfNoneMatch"] == "*"


def test_a_resent_instance_takes_the_412_path_to_a_duplicate(ingest_env, s3_calls) -> None:
    data = to_bytes(build_dataset())
    ingestor = ingest_env.ingestor()
    first = ingestor.ingest_bytes(data, "a.dcm")
    s3_calls.clear()
    again = ingestor.ingest_bytes(data, "a.dcm")
    assert again.outcome is Outcome.DUPLICATE and again.version_id == first.version_id
    assert [op for op, _ in s3_calls] == ["PutObject", "HeadObject"]     # refused, then compared
    assert len(ingest_env.versions(first.key)) == 1


def test_bytes_another_writer_put_first_make_a_recorded_conflict(ingest_env) -> None:
    ds = build_dataset()
    theirs = to_bytes(ds)
    ds.ImageComments = "our copy"
    ours = to_bytes(ds)
    key = archive_key(ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID)
    other = ingest_env.s3.put_object(Bucket=ingest_env.archive_bucket, Key=key, Body=theirs,
                                     ChecksumAlgorithm="SHA256")          # e.g. another process; no index item
    result = ingest_env.ingestor().ingest_bytes(ours, "ours.dcm")
    assert result.outcome is Outcome.CONFLICT and result.version_id != other["VersionId"]
    assert ingest_env.get(key, other["VersionId"]) == theirs and ingest_env.get(key) == ours
    item = ingest_env.index_item(ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID)
    assert item["VersionId"] == result.version_id and item["ConflictCount"] == 1
    assert item["Conflicts"][0]["PreviousVersionId"] == other["VersionId"]
    assert item["Conflicts"][0]["PreviousChecksumSHA256"] == sha256_b64(theirs)


def test_same_bytes_another_writer_put_first_are_a_duplicate_that_gets_indexed(ingest_env) -> None:
    ds = build_dataset()
    data = to_bytes(ds)
    key = archive_key(ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID)
    other = ingest_env.s3.put_object(Bucket=ingest_env.archive_bucket, Key=key, Body=data, ChecksumAlgorithm="SHA256")
    result = ingest_env.ingestor().ingest_bytes(data, "a.dcm")
    assert result.outcome is Outcome.DUPLICATE and "repaired" in result.detail
    item = ingest_env.index_item(ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID)
    assert item["VersionId"] == other["VersionId"] and "Conflicts" not in item


@pytest.mark.parametrize(("claims", "operation"), [(False, "put_item"), (True, "transact_write_items")])
def test_a_failed_index_write_names_the_archived_instance_and_a_retry_indexes_it(ingest_env, monkeypatch, claims,
                                                                                operation) -> None:
    """Without a claims table the lone item goes out as a PutItem; with one, in a
    TransactWriteItems with its claim: either failing leaves the instance archived, unindexed
    and named, and a retry writes the item (and the claim)."""
    ds = build_dataset()
    data = to_bytes(ds)
    ingestor = ingest_env.ingestor(claims=claims)

    def failing_put(*_args, **_kwargs):
        raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "PutItem")

    monkeypatch.setattr(ingestor._index._ddb, operation, failing_put)
    with pytest.raises(InfraError) as info:
        ingestor.ingest_bytes(data, "a.dcm")
    (version,) = [v["VersionId"] for v in ingest_env.versions(archive_key(
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID))]
    message = str(info.value)
    assert "a.dcm: archived as dicom/" in message and version in message
    assert "index item was not written" in message
    assert "ThrottlingException" in message
    monkeypatch.undo()
    retry = ingestor.ingest_bytes(data, "a.dcm")
    assert retry.outcome is Outcome.DUPLICATE and "repaired" in retry.detail
    assert ingest_env.index_item(ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID)["VersionId"] == version
    if claims:
        assert ingest_env.claims() == {ds.SOPInstanceUID: (ds.StudyInstanceUID,
                                                           f"{ds.SeriesInstanceUID}/{ds.SOPInstanceUID}")}


def test_concurrent_ingest_returns_only_indexed_instances(ingest_env) -> None:
    from concurrent.futures import ThreadPoolExecutor

    datasets = [build_dataset() for _ in range(24)]
    ingestor = ingest_env.ingestor()

    def ingest(ds):
        result = ingestor.ingest_bytes(to_bytes(ds), ds.SOPInstanceUID)
        return result, ingest_env.index_item(ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID)

    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(ingest, datasets))
    for result, item in outcomes:
        assert result.outcome is Outcome.ARCHIVED
        assert item is not None and item["VersionId"] == result.version_id, result.source
    assert len(ingest_env.index_items()) == 24


def test_a_re_ingest_heads_first_and_new_instances_switch_back(ingest_env, s3_calls) -> None:
    ingestor = ingest_env.ingestor()
    first = [to_bytes(build_dataset()) for _ in range(20)]
    for n, data in enumerate(first):
        assert ingestor.ingest_bytes(data, f"{n}.dcm").outcome is Outcome.ARCHIVED

    def ops_of(data: bytes, source: str) -> tuple[Outcome, list[str]]:
        s3_calls.clear()
        outcome = ingestor.ingest_bytes(data, source).outcome
        return outcome, [op + ("?" if params.get("IfNoneMatch") == "*" else "") for op, params in s3_calls]

    again = [ops_of(data, f"again-{n}.dcm") for n, data in enumerate(first)]
    assert {outcome for outcome, _ in again} == {Outcome.DUPLICATE}
    assert again[0][1] == ["PutObject?", "HeadObject"]                 # refused, then compared
    assert all(ops == ["HeadObject"] for _, ops in again[-5:])         # no body sent to be refused
    fresh = [ops_of(to_bytes(build_dataset()), f"new-{n}.dcm") for n in range(12)]
    assert {outcome for outcome, _ in fresh} == {Outcome.ARCHIVED}
    assert fresh[0][1] == ["HeadObject", "PutObject?"]                 # found nothing: still conditional
    assert all(ops == ["PutObject?"] for _, ops in fresh[-3:])         # back to PUT first


def test_a_quarantine_reason_lost_to_a_crash_is_rewritten_and_reported(ingest_env, malformed) -> None:
    _, data = malformed["truncated-pixel-data"]
    ingestor = ingest_env.ingestor()
    first = ingestor.ingest_bytes(data, "a")
    sha = hashlib.sha256(data).hexdigest()
    # the crash: bytes quarantined, the reason document never written
    ingest_env.s3.delete_object(Bucket=ingest_env.archive_bucket, Key=quarantine_reason_key(sha))
    again = ingestor.ingest_bytes(data, "a")
    assert again.outcome is Outcome.QUARANTINED and again.version_id == first.version_id
    assert again.repair == "quarantine reason" and "reason document rewritten" in again.detail
    assert ingest_env.reason(sha)["reason"] == "truncated"
    third = ingestor.ingest_bytes(data, "a")
    assert third.repair == "" and len(ingest_env.versions(first.key)) == 1


def test_incomplete_multipart_uploads_are_aborted_when_abandoned_and_left_when_young(ingest_env) -> None:
    """ListMultipartUploads reports each upload's Initiated time
    (https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListMultipartUploads.html); moto
    reports a fixed one, so the ingestor's clock is placed relative to what it reports."""
    from datetime import timedelta
    s3 = ingest_env.s3
    s3.create_multipart_upload(Bucket=ingest_env.archive_bucket, Key="dicom/1/2/3.dcm")
    initiated = s3.list_multipart_uploads(Bucket=ingest_env.archive_bucket)["Uploads"][0]["Initiated"]
    young = ingest_env.ingestor(now=lambda: initiated + timedelta(minutes=5)).abort_stale_uploads()
    assert (young.aborted, young.in_progress) == (0, 1)
    later = ingest_env.ingestor(now=lambda: initiated + timedelta(hours=2))
    stale = later.abort_stale_uploads()
    assert (stale.aborted, stale.in_progress) == (1, 0)
    assert not s3.list_multipart_uploads(Bucket=ingest_env.archive_bucket).get("Uploads")


def test_a_fifo_is_refused_without_blocking(ingest_env, tmp_path) -> None:
    import os
    os.mkfifo(tmp_path / "pipe.dcm")
    with pytest.raises(UsageError, match="a FIFO, not a regular file"):
        ingest_env.ingestor().ingest_file(tmp_path / "pipe.dcm")


def test_a_deflate_bomb_is_quarantined_with_its_reason(ingest_env) -> None:
    from .conftest import deflate_bomb
    bomb = deflate_bomb(8 * 1024 * 1024)
    result = ingest_env.ingestor(max_inflated=4 * 1024 * 1024).ingest_bytes(bomb, "bomb.dcm")
    assert result.outcome is Outcome.QUARANTINED and result.reason.value == "inflated-too-large"
    assert ingest_env.ingestor().ingest_bytes(bomb, "bomb.dcm").outcome is Outcome.ARCHIVED   # within 64 MiB


def test_the_same_data_set_in_another_encoding_is_a_duplicate_and_the_first_bytes_stay(ingest_env) -> None:
    import copy
    from pydicom.uid import ImplicitVRLittleEndian
    ds = build_dataset(ExplicitVRLittleEndian)
    explicit = to_bytes(ds)
    implicit_ds = copy.deepcopy(ds)
    implicit_ds.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian
    implicit_ds.file_meta.ImplementationClassUID = "1.2.826.0.1.3680043.9.3811.2.1.0"   # a gateway's wrapper
    implicit = to_bytes(implicit_ds)
    ingestor = ingest_env.ingestor()
    first = ingestor.ingest_bytes(explicit, "disk.dcm")
    again = ingestor.ingest_bytes(implicit, "c-store:MODALITY")
    assert again.outcome is Outcome.DUPLICATE and "same data set in another encoding" in again.detail
    assert len(ingest_env.versions(first.key)) == 1 and ingest_env.get(first.key) == explicit
    changed = copy.deepcopy(implicit_ds)
    changed.StudyDate = "20240105"
    assert ingestor.ingest_bytes(to_bytes(changed), "c-store:MODALITY").outcome is Outcome.CONFLICT


def test_a_sop_instance_uid_claimed_by_another_study_is_a_reported_conflict(ingest_env) -> None:
    first_ds = build_dataset()
    ingestor = ingest_env.ingestor()
    first = ingestor.ingest_bytes(to_bytes(first_ds), "a.dcm")
    other_study = build_dataset(SOPInstanceUID=first_ds.SOPInstanceUID)        # same UID, new study and series
    second = ingestor.ingest_bytes(to_bytes(other_study), "b.dcm")
    assert second.outcome is Outcome.CONFLICT and first.key in second.detail
    assert ingest_env.get(second.key) == to_bytes(other_study)                  # nothing lost
    item = ingest_env.index_item(other_study.StudyInstanceUID, other_study.SeriesInstanceUID,
                                 other_study.SOPInstanceUID)
    assert item["Conflicts"][0]["Kind"] == "SOPInstanceUIDReused" and item["Conflicts"][0]["OtherKey"] == first.key
    assert ingestor.ingest_bytes(to_bytes(other_study), "b.dcm").outcome is Outcome.DUPLICATE
    other_series = build_dataset(SOPInstanceUID=first_ds.SOPInstanceUID, StudyInstanceUID=first_ds.StudyInstanceUID)
    assert ingestor.ingest_bytes(to_bytes(other_series), "c.dcm").outcome is Outcome.CONFLICT


def test_a_table_without_the_sop_instance_index_still_archives(ingest_env) -> None:
    """An index table created before the GSI existed: archived, the UID not checked (warned)."""
    from .conftest import new_name
    from drills.contracts import INDEX_ATTRIBUTE_DEFINITIONS, INDEX_KEY_SCHEMA
    table = new_name("old-index")
    ingest_env.ddb.create_table(TableName=table, KeySchema=INDEX_KEY_SCHEMA,
                                AttributeDefinitions=INDEX_ATTRIBUTE_DEFINITIONS, BillingMode="PAY_PER_REQUEST")
    dest = IngestDestination(ingest_env.target, ingest_env.region, ingest_env.archive_bucket, table)
    result = Ingestor(dest, ingest_env.pseudonymizer()).ingest_bytes(to_bytes(build_dataset()), "a.dcm")
    assert result.outcome is Outcome.ARCHIVED


def test_a_pending_index_write_is_waited_for_before_the_same_key_is_ingested_again(ingest_env, tmp_path,
                                                                                   monkeypatch) -> None:
    """start_file returns before its index write (which lingers for a fuller group); a
    corrected re-send of the same instance waits for that write, so the index ends on the
    newer version with the conflict recorded — never the older item written last."""
    from drills.ingest import index as index_module

    monkeypatch.setattr(index_module, "LINGER", 60.0)
    ds = build_dataset()
    original = tmp_path / "a.dcm"
    original.write_bytes(to_bytes(ds))
    ds.ImageComments = "re-sent after correction"
    changed = to_bytes(ds)
    ingestor = ingest_env.ingestor()
    pending = ingestor.start_file(original, "a.dcm")
    assert not pending.done()                                          # archived, its index write queued
    assert ingest_env.index_item(ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID) is None
    second = ingestor.ingest_bytes(changed, "a-corrected.dcm")
    first = pending.result(10)
    assert first.outcome is Outcome.ARCHIVED and second.outcome is Outcome.CONFLICT
    item = ingest_env.index_item(ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID)
    assert item["VersionId"] == second.version_id and item["ConflictCount"] == 1
    assert item["Conflicts"][0]["PreviousVersionId"] == first.version_id
