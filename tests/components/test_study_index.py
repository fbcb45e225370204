"""components/study_index.py: the contract's key schema, on-demand, PITR, KMS, stream, DR replica;
and the SOP Instance UID claims table beside it, configured the same way."""

from __future__ import annotations

import pytest

from drills.contracts import CLAIMS_PARTITION_KEY, INDEX_PARTITION_KEY, INDEX_SOP_GSI, INDEX_SOP_GSI_KEY, INDEX_SORT_KEY

TABLE = "aws:dynamodb/table:Table"


def table(d):
    (t,) = [t for t in d.all(TABLE) if t.inputs["hashKey"] == INDEX_PARTITION_KEY]
    return t


def claims(d):
    (t,) = [t for t in d.all(TABLE) if t.inputs["hashKey"] == CLAIMS_PARTITION_KEY]
    return t


def test_the_claims_table_is_keyed_by_sop_instance_uid_beside_the_index(stack) -> None:
    t = claims(stack)
    assert len(stack.all(TABLE)) == 2
    assert t.inputs["hashKey"] == "SOPInstanceUID" and "rangeKey" not in t.inputs, t.urn
    assert [(a["name"], a["type"]) for a in t.inputs["attributes"]] == [("SOPInstanceUID", "S")], t.urn
    assert stack.parent(t).type == "drkit:study_index:StudyIndex", t.urn


def test_keys_match_the_contract(stack) -> None:
    t = table(stack)
    assert (t.inputs["hashKey"], t.inputs["rangeKey"]) == (INDEX_PARTITION_KEY, INDEX_SORT_KEY) == \
        ("StudyInstanceUID", "SeriesSop"), t.urn
    assert sorted((a["name"], a["type"]) for a in t.inputs["attributes"]) == [
        ("SOPInstanceUID", "S"), ("SeriesSop", "S"), ("StudyInstanceUID", "S")]
    assert stack.parent(t).type == "drkit:study_index:StudyIndex", t.urn


def test_sop_instance_uid_index_for_global_uniqueness(stack) -> None:
    t = table(stack)
    (gsi,) = t.inputs["globalSecondaryIndexes"]
    assert (gsi["name"], gsi["hashKey"], gsi["projectionType"]) == (INDEX_SOP_GSI, INDEX_SOP_GSI_KEY, "KEYS_ONLY"), t.urn


@pytest.mark.parametrize("which", [table, claims])
def test_on_demand_pitr_kms(stack, which) -> None:
    t = which(stack)
    key = stack.key_arn("app")
    assert t.inputs["billingMode"] == "PAY_PER_REQUEST", t.urn
    assert t.inputs["pointInTimeRecovery"] == {"enabled": True}, t.urn
    assert t.inputs["serverSideEncryption"] == {"enabled": True, "kmsKeyArn": key}, t.urn
    assert stack.region(t) == stack.config.primary_region, t.urn


def test_the_index_has_a_stream(stack) -> None:
    t = table(stack)
    assert (t.inputs["streamEnabled"], t.inputs["streamViewType"]) == (True, "NEW_AND_OLD_IMAGES"), t.urn


@pytest.mark.parametrize("which", [table, claims])
def test_replica_in_dr_with_dr_key_and_pitr(stack, which) -> None:
    t = which(stack)
    replica_key = stack.key_arn("app", dr=True)
    (replica,) = t.inputs["replicas"]
    assert replica["regionName"] == stack.config.dr_region, t.urn
    assert replica["kmsKeyArn"] == replica_key, t.urn
    assert replica["pointInTimeRecovery"] is True, t.urn


@pytest.mark.parametrize("table", [table, claims])
def test_deletion_protection_and_protect_in_prod_only(dev, prod, table) -> None:
    assert table(prod).inputs["deletionProtectionEnabled"] is True
    assert table(prod).inputs["replicas"][0]["deletionProtectionEnabled"] is True
    assert table(prod).protect and table(prod).retain_on_delete
    assert table(dev).inputs["deletionProtectionEnabled"] is False
    assert not table(dev).protect
