"""Rungs 5 (stored SHA-256 vs index) and 6 (a sample downloaded, hashed and re-parsed)."""

from __future__ import annotations

from drills.engine.model import Status
from drills.probes.integrity import choose_sample, parse_problem
from drills.probes.observe import IndexItem
from tests.drills.probes.plant import replica_bytes_altered


def test_altered_replica_bytes_under_a_stale_checksum_are_caught_only_by_hashing_them(healthy) -> None:
    """S3 reports the checksum stored with the object (AWS: "Checking object integrity",
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/checking-object-integrity.html);
    replication copies that value, so bytes altered under it pass rung 5 and fail rung 6."""
    key, version = healthy.current(0)
    with replica_bytes_altered(healthy, key, version):
        head = healthy.s3("replica").head_object(Bucket=healthy.bucket("replica"), Key=key, VersionId=version,
                                                 ChecksumMode="ENABLED")
        results = healthy.ladder(5, 6, sample=1000)
    stored = healthy.s3().head_object(Bucket=healthy.bucket(), Key=key, VersionId=version, ChecksumMode="ENABLED")
    assert head["ChecksumSHA256"] == stored["ChecksumSHA256"]          # the stale checksum still looks right
    assert results[5].status is Status.PASSED
    sample = results[6]
    assert sample.status is Status.FAILED
    (finding,) = sample.findings
    assert finding.code == "replica-bytes-mismatch" and finding.resource == healthy.outputs.replicaBucket
    assert finding.evidence["labels"] == [f"{key}@{version}"]
    assert sample.counts["hashMismatch"] == 1
    assert sample.counts["verified"] == sample.counts["downloads"] - 1 == 2 * len(healthy.manifest.entries) - 1


def test_an_index_checksum_that_differs_from_s3s_fails_rung_5(healthy) -> None:
    key, version = healthy.current(1)
    ddb = healthy.cloud.target.client("dynamodb", healthy.outputs.primaryRegion)
    _, study, series, sop = key[:-len(".dcm")].split("/")
    item_key = {"StudyInstanceUID": {"S": study}, "SeriesSop": {"S": f"{series}/{sop}"}}
    original = ddb.get_item(TableName=healthy.outputs.indexTable, Key=item_key)["Item"]["ChecksumSHA256"]
    ddb.update_item(TableName=healthy.outputs.indexTable, Key=item_key, UpdateExpression="SET ChecksumSHA256 = :c",
                    ExpressionAttributeValues={":c": {"S": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}})
    try:
        result = healthy.ladder(5)[5]
    finally:
        ddb.update_item(TableName=healthy.outputs.indexTable, Key=item_key, UpdateExpression="SET ChecksumSHA256 = :c",
                        ExpressionAttributeValues={":c": original})
    assert result.status is Status.FAILED
    codes = {f.code: f for f in result.findings}
    assert codes["archive-checksum-mismatch"].resource == healthy.outputs.archiveBucket
    assert codes["archive-checksum-mismatch"].evidence["labels"] == [f"{key}@{version}"]


def test_the_default_sample_takes_a_few_per_specialty_and_the_seed_fixes_which(healthy) -> None:
    sample = healthy.ladder(6, seed=5)[6]
    assert sample.status is Status.PASSED and sample.counts["seed"] == 5
    specialties = {e.specialty for e in healthy.manifest.entries}
    assert set(sample.counts["sampled"]) == specialties
    assert all(1 <= n <= 3 for n in sample.counts["sampled"].values())


def test_choose_sample_is_reproducible_per_seed() -> None:
    items = [IndexItem("s", f"x/{n}", f"dicom/s/x/{n}.dcm", "v", "c", 1, spec)
             for n in range(20) for spec in ("radiology", "pathology")]
    first = choose_sample(items, 3, seed=1)
    assert {k: len(v) for k, v in first.items()} == {"pathology": 3, "radiology": 3}
    assert first == choose_sample(list(reversed(items)), 3, seed=1)
    assert any(first[k] != v for k, v in choose_sample(items, 3, seed=2).items())


def test_parse_problem_names_what_is_wrong() -> None:
    assert parse_problem(b"not dicom at all", "dicom/1/2/3.dcm", "dicom/") == "not a DICOM file"
