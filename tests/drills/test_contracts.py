"""The stack-output schema is validated field by field; the key layout is fixed."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from drills.contracts import (INDEX_ATTRIBUTES, INDEX_PARTITION_KEY, INDEX_SORT_KEY, IndexConflict, IndexItem,
                              StackOutputs, Specialty, archive_key, index_sort_key, opaque_label,
                              quarantine_key, quarantine_reason_key, specialty_for)
from drills.errors import UsageError

VALID = {
    "schemaVersion": 1, "primaryRegion": "us-east-1", "drRegion": "us-west-2",
    "archiveBucket": "a", "replicaBucket": "r", "landingBucket": "l", "indexTable": "t",
    "backupVault": "v", "drBackupVault": "dv", "evidenceBucket": "e",
    "multiRegionAccessPoint": "arn:aws:s3::123456789012:accesspoint/x.mrap",
    "objectives": {"rpoMinutes": 15, "rtoMinutes": 240, "restoreHours": 12},
}


def test_valid_outputs_round_trip(tmp_path: Path) -> None:
    outputs = StackOutputs.from_mapping(VALID)
    assert outputs.objectives.rtoMinutes == 240.0
    path = tmp_path / "outputs.json"
    outputs.write(path)
    assert StackOutputs.load(path) == outputs


@pytest.mark.parametrize("change, message", [
    ({"archiveBucket": None}, "missing stack output(s): archiveBucket"),
    ({"schemaVersion": 3}, "schemaVersion 3 is not supported"),
    ({"schemaVersion": True}, "schemaVersion True is not supported"),
    ({"schemaVersion": 2}, "missing stack output(s): hashKeySecretArn"),
    ({"schemaVersion": 2, "hashKeySecretArn": "drkit-hash-key"}, "not a Secrets Manager secret ARN"),
    ({"replicaBucket": ""}, "'replicaBucket' must be a non-empty string"),
    ({"objectives": {"rpoMinutes": "soon"}}, "numeric rpoMinutes"),
])
def test_invalid_outputs_name_the_field(change: dict, message: str) -> None:
    data = {**VALID, **change}
    data = {k: v for k, v in data.items() if v is not None}
    with pytest.raises(UsageError) as exc:
        StackOutputs.from_mapping(data)
    assert message in str(exc.value)
    assert exc.value.exit_code == 2


def test_outputs_file_errors_are_usage_errors(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no such outputs file"):
        StackOutputs.load(tmp_path / "absent.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(UsageError, match=r"not valid JSON .* line 1"):
        StackOutputs.load(bad)
    bad.write_text(json.dumps([1, 2]))
    with pytest.raises(UsageError, match="expected a JSON object"):
        StackOutputs.load(bad)


def test_key_layout() -> None:
    assert archive_key("1.2", "1.2.3", "1.2.3.4") == "dicom/1.2/1.2.3/1.2.3.4.dcm"
    assert quarantine_key("ab") == "quarantine/ab.bin"
    assert quarantine_reason_key("ab") == "quarantine/ab.json"
    assert index_sort_key("1.2.3", "1.2.3.4") == "1.2.3/1.2.3.4"


def test_opaque_label_is_the_prefix_and_12_hex_digits_of_the_sha256() -> None:
    """Labels already in journals and reports keep their value: SHA-256("abc") starts ba7816bf8f01
    (FIPS 180-2, appendix B.1)."""
    assert opaque_label("item", "abc") == "item-ba7816bf8f01"
    key = archive_key("1.2", "1.2.3", "1.2.3.4")
    assert opaque_label("item", key) == opaque_label("item", key) != opaque_label("item", key + "x")
    assert "1.2.3" not in opaque_label("item", key)


@pytest.mark.parametrize("modality, specialty", [
    ("CT", Specialty.RADIOLOGY), ("mg", Specialty.RADIOLOGY), ("US", Specialty.CARDIOLOGY),
    ("ECG", Specialty.CARDIOLOGY), ("SM", Specialty.PATHOLOGY), ("XC", Specialty.DERMATOLOGY),
    ("OP", Specialty.OPHTHALMOLOGY), ("SEG", Specialty.OTHER), (None, Specialty.OTHER),
])
def test_specialty_by_modality(modality, specialty) -> None:
    assert specialty_for(modality) is specialty


# --------------------------------------------------------------------------- index item

def _index_item(**overrides) -> IndexItem:
    values = dict(study_instance_uid="1.2.3", series_instance_uid="1.2.4", sop_instance_uid="1.2.5",
                  sop_class_uid="1.2.840.10008.5.1.4.1.1.2", modality="CT", specialty="radiology",
                  study_date="20240102", size=1234, checksum_sha256="c2hh", version_id="v1",
                  key="dicom/1.2.3/1.2.4/1.2.5.dcm", patient_id_hash="ab" * 32, accession_hash="cd" * 32,
                  transfer_syntax_uid="1.2.840.10008.1.2.1", ingested_at="2026-01-02T03:04:05Z",
                  content_sha256="c2hh", checksum_type="FULL_OBJECT")
    return IndexItem(**{**values, **overrides})


def test_index_item_round_trips_through_dynamodb_form() -> None:
    item = _index_item()
    raw = item.to_item()
    assert set(raw) == {INDEX_PARTITION_KEY, INDEX_SORT_KEY, *INDEX_ATTRIBUTES}
    assert raw[INDEX_SORT_KEY] == "1.2.4/1.2.5" and raw["Size"] == 1234
    # boto3's deserializer gives numbers as Decimal
    assert IndexItem.from_item({**raw, "Size": Decimal(1234)}) == item
    conflict = IndexConflict("2026-01-03T00:00:00Z", "v0", "b2xk", 10, "v1", "c2hh")
    composite = _index_item(checksum_type="COMPOSITE", part_size=8, part_count=2, conflicts=(conflict,),
                            conflict_count=1)
    raw = composite.to_item()
    assert raw["PartSize"] == 8 and raw["PartCount"] == 2 and raw["ConflictCount"] == 1
    assert raw["Conflicts"] == [{"DetectedAt": "2026-01-03T00:00:00Z", "PreviousVersionId": "v0",
                                 "PreviousChecksumSHA256": "b2xk", "PreviousSize": 10, "VersionId": "v1",
                                 "ChecksumSHA256": "c2hh"}]
    assert IndexItem.from_item({**raw, "PartSize": Decimal(8), "ConflictCount": Decimal(1)}) == composite


def test_index_item_names_what_a_stored_item_lacks() -> None:
    raw = _index_item().to_item()
    del raw["PatientIdHash"], raw["Size"]
    read = IndexItem.from_item(raw)
    assert read.missing == ("Size", "PatientIdHash")
    assert read.size == 0 and read.patient_id_hash == ""
    with pytest.raises(ValueError, match="SeriesSop"):
        IndexItem.from_item({k: v for k, v in raw.items() if k != INDEX_SORT_KEY})
SECRET_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:dev-hash-key-AbCdEf"


def test_schema_version_2_names_the_hash_key_secret(tmp_path: Path) -> None:
    outputs = StackOutputs.from_mapping({**VALID, "schemaVersion": 2, "hashKeySecretArn": SECRET_ARN})
    assert outputs.hashKeySecretArn == SECRET_ARN
    path = tmp_path / "outputs.json"
    outputs.write(path)
    assert StackOutputs.load(path) == outputs


def test_schema_version_1_still_reads_without_the_secret() -> None:
    outputs = StackOutputs.from_mapping(VALID)
    assert outputs.hashKeySecretArn is None
    assert "hashKeySecretArn" not in outputs.to_dict()


ROLE_ARN = "arn:aws:iam::123456789012:role/drkit-dev-batch-role-abc123"


def test_batch_operations_role_is_optional_and_round_trips(tmp_path: Path) -> None:
    base = {**VALID, "schemaVersion": 2, "hashKeySecretArn": SECRET_ARN}
    assert StackOutputs.from_mapping(base).batchOperationsRoleArn is None
    assert "batchOperationsRoleArn" not in StackOutputs.from_mapping(base).to_dict()
    outputs = StackOutputs.from_mapping({**base, "batchOperationsRoleArn": ROLE_ARN})
    path = tmp_path / "outputs.json"
    outputs.write(path)
    assert StackOutputs.load(path).batchOperationsRoleArn == ROLE_ARN


def test_batch_operations_role_must_be_a_role_arn() -> None:
    with pytest.raises(UsageError, match="batchOperationsRoleArn' is not an IAM role ARN"):
        StackOutputs.from_mapping({**VALID, "batchOperationsRoleArn": "arn:aws:iam::123456789012:user/bob"})


def test_attacker_roles_are_absent_when_not_deployed_and_round_trip(tmp_path: Path) -> None:
    """A stack with ``drkit:drill.attacker.enabled: false`` (production's default) exports neither."""
    base = {**VALID, "schemaVersion": 2, "hashKeySecretArn": SECRET_ARN}
    parsed = StackOutputs.from_mapping(base)
    assert parsed.attackerRoleArn is None and parsed.attackerBypassRoleArn is None
    assert not {"attackerRoleArn", "attackerBypassRoleArn"} & set(parsed.to_dict())
    bypass = "arn:aws:iam::123456789012:role/drkit-dev-drills-attacker-bypass"
    outputs = StackOutputs.from_mapping({**base, "attackerRoleArn": ROLE_ARN, "attackerBypassRoleArn": bypass})
    path = tmp_path / "outputs.json"
    outputs.write(path)
    loaded = StackOutputs.load(path)
    assert (loaded.attackerRoleArn, loaded.attackerBypassRoleArn) == (ROLE_ARN, bypass)


@pytest.mark.parametrize("output", ["attackerRoleArn", "attackerBypassRoleArn"])
def test_attacker_roles_must_be_role_arns(output: str) -> None:
    with pytest.raises(UsageError, match=f"{output}' is not an IAM role ARN") as exc:
        StackOutputs.from_mapping({**VALID, output: "arn:aws:iam::123456789012:user/mallory"})
    assert exc.value.exit_code == 2
