"""DynamoDB point-in-time restore as of the instant (drills.cloud.sim.dynamodb_pitr)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from botocore.exceptions import ClientError

MIN = 60


@pytest.fixture
def ddb(client):
    return client("dynamodb", "us-east-1")


@pytest.fixture
def table(ddb):
    name = "study-index-pitr"
    ddb.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                           {"AttributeName": "sk", "AttributeType": "S"}])
    return name


def _enable(ddb, name):
    ddb.update_continuous_backups(TableName=name, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True})


def _items(ddb, name):
    return sorted((i["pk"]["S"], i["sk"]["S"], i.get("v", {}).get("S")) for i in ddb.scan(TableName=name)["Items"])


def test_restore_to_a_moment_between_two_writes_returns_the_table_as_it_was(cloud, ddb, table):
    """RestoreTableToPointInTime restores the table as of RestoreDateTime: writes after it
    are absent, items deleted after it are present.
    https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_RestoreTableToPointInTime.html
    https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/PointInTimeRecovery.html"""
    ddb.put_item(TableName=table, Item={"pk": {"S": "study-1"}, "sk": {"S": "i1"}, "v": {"S": "old"}})
    _enable(ddb, table)
    cloud.clock.advance(10 * MIN)
    ddb.put_item(TableName=table, Item={"pk": {"S": "study-2"}, "sk": {"S": "i1"}})
    cloud.clock.advance(10 * MIN)
    between = cloud.clock.now()
    cloud.clock.advance(10 * MIN)
    ddb.put_item(TableName=table, Item={"pk": {"S": "study-3"}, "sk": {"S": "i1"}})
    ddb.update_item(TableName=table, Key={"pk": {"S": "study-1"}, "sk": {"S": "i1"}},
                    UpdateExpression="SET v = :v", ExpressionAttributeValues={":v": {"S": "new"}})
    ddb.delete_item(TableName=table, Key={"pk": {"S": "study-2"}, "sk": {"S": "i1"}})
    cloud.clock.advance(10 * MIN)
    restored = ddb.restore_table_to_point_in_time(SourceTableName=table, TargetTableName="restored-between",
                                                  RestoreDateTime=between)
    assert abs((restored["TableDescription"]["RestoreSummary"]["RestoreDateTime"] - between).total_seconds()) < 1
    assert _items(ddb, "restored-between") == [("study-1", "i1", "old"), ("study-2", "i1", None)]
    assert _items(ddb, table) == [("study-1", "i1", "new"), ("study-3", "i1", None)]
    ddb.restore_table_to_point_in_time(SourceTableName=table, TargetTableName="restored-latest",
                                       UseLatestRestorableTime=True)
    assert _items(ddb, "restored-latest") == _items(ddb, table)


def test_restorable_window_follows_the_virtual_clock(cloud, ddb, table):
    """EarliestRestorableDateTime is when PITR was enabled; LatestRestorableDateTime is
    typically 5 minutes before now (API_PointInTimeRecoveryDescription)."""
    _enable(ddb, table)
    enabled = cloud.clock.now()
    cloud.clock.advance(60 * MIN)
    desc = ddb.describe_continuous_backups(TableName=table)["ContinuousBackupsDescription"]
    pitr = desc["PointInTimeRecoveryDescription"]
    assert abs((pitr["EarliestRestorableDateTime"] - enabled).total_seconds()) < 1
    assert abs((pitr["LatestRestorableDateTime"] - (cloud.clock.now() - timedelta(minutes=5))).total_seconds()) < 1


def test_restore_time_outside_the_window_is_refused(cloud, ddb, table):
    """A RestoreDateTime before EarliestRestorableDateTime or after LatestRestorableDateTime:
    InvalidRestoreTimeException (API_RestoreTableToPointInTime, Errors)."""
    before_table = cloud.clock.now() - timedelta(days=1)
    _enable(ddb, table)
    cloud.clock.advance(30 * MIN)
    for when in (before_table, cloud.clock.now() - timedelta(minutes=1)):
        with pytest.raises(ClientError) as err:
            ddb.restore_table_to_point_in_time(SourceTableName=table, TargetTableName="nope", RestoreDateTime=when)
        assert err.value.response["Error"]["Code"] == "InvalidRestoreTimeException"
    assert "nope" not in ddb.list_tables()["TableNames"]


def test_restore_without_pitr_is_unavailable(ddb, table):
    """A table without point-in-time recovery cannot be restored:
    PointInTimeRecoveryUnavailableException (API_RestoreTableToPointInTime, Errors)."""
    with pytest.raises(ClientError) as err:
        ddb.restore_table_to_point_in_time(SourceTableName=table, TargetTableName="nope2",
                                           UseLatestRestorableTime=True)
    assert err.value.response["Error"]["Code"] == "PointInTimeRecoveryUnavailableException"
