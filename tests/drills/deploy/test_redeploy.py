"""A second ``drkit up`` of a stack whose archive holds data: idempotent, data left alone."""

from __future__ import annotations

from pathlib import Path

import pytest

from drills.aws import Target
from drills.cloud.server import EmbeddedCloud
from drills.contracts import INDEX_SOP_GSI
from drills.deploy.engine import deploy
from drills.project import find_project

REPO = Path(__file__).resolve().parents[3]


@pytest.mark.slow
def test_redeploy_onto_an_archive_holding_data_updates_nothing_and_keeps_the_data(monkeypatch) -> None:
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(name, value)
    project = find_project(project_dir=REPO)
    with EmbeddedCloud() as cloud:
        target = Target(endpoint=cloud.endpoint)
        first = deploy(project, "dev", target).outputs
        s3 = cloud.target.client("s3", first.primaryRegion)
        s3.put_object(Bucket=first.archiveBucket, Key="dicom/1/2/3.dcm", Body=b"x" * 10)
        again = deploy(project, "dev", target)           # moto refused PutObjectLockConfiguration here
        assert again.outputs == first
        assert all(r.reused for r in again.created)
        assert s3.get_object(Bucket=first.archiveBucket, Key="dicom/1/2/3.dcm")["Body"].read() == b"x" * 10
        lock = s3.get_object_lock_configuration(Bucket=first.archiveBucket)["ObjectLockConfiguration"]
        assert lock["ObjectLockEnabled"] == "Enabled" and lock["Rule"]["DefaultRetention"]
        table = cloud.target.client("dynamodb", first.primaryRegion).describe_table(TableName=first.indexTable)
        assert INDEX_SOP_GSI in {g["IndexName"] for g in table["Table"]["GlobalSecondaryIndexes"]}


def test_a_redeploy_adds_the_sop_instance_index_to_an_older_table(monkeypatch) -> None:
    """UpdateTable creates a GSI on an existing table, items kept
    (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_UpdateTable.html)."""
    import boto3
    from moto import mock_aws

    from drills.contracts import INDEX_ATTRIBUTE_DEFINITIONS, INDEX_KEY_SCHEMA, INDEX_TABLE_DEFINITION
    from drills.deploy.dynamodb import _add_missing_indexes

    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        table = ddb.create_table(TableName="old", KeySchema=INDEX_KEY_SCHEMA,
                                 AttributeDefinitions=INDEX_ATTRIBUTE_DEFINITIONS,
                                 BillingMode="PAY_PER_REQUEST")["TableDescription"]
        ddb.put_item(TableName="old", Item={"StudyInstanceUID": {"S": "1"}, "SeriesSop": {"S": "2/3"},
                                            "SOPInstanceUID": {"S": "3"}})
        _add_missing_indexes(ddb, {"TableName": "old", **INDEX_TABLE_DEFINITION}, table)
        described = ddb.describe_table(TableName="old")["Table"]
        assert [g["IndexName"] for g in described["GlobalSecondaryIndexes"]] == [INDEX_SOP_GSI]
        found = ddb.query(TableName="old", IndexName=INDEX_SOP_GSI, KeyConditionExpression="SOPInstanceUID = :s",
                          ExpressionAttributeValues={":s": {"S": "3"}})["Items"]
        assert len(found) == 1
