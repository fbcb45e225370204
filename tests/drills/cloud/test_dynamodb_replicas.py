"""DynamoDB replica tables on the embedded cloud: writes reach the other region after a lag.

The lag is dynamodb_lag_seconds=10 x uniform(0.5, 1.5): nothing before 5 s, all by 15 s.
"""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from drills.cloud.simulation import SimSettings

PRIMARY, DR = "us-east-1", "us-west-2"
KEY = {"pk": {"S": "study-1"}, "sk": {"S": "instance-1"}}


def create_table(client, name: str) -> None:
    client.create_table(
        TableName=name, BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                              {"AttributeName": "sk", "AttributeType": "S"}])


class Tables:
    def __init__(self, cloud, name: str) -> None:
        self.cloud, self.name = cloud, name
        self.primary = cloud.target.client("dynamodb", PRIMARY)
        self.dr = cloud.target.client("dynamodb", DR)
        create_table(self.primary, name)
        create_table(self.dr, name)

    def link(self) -> dict:
        return self.cloud.sim["dynamodb_replicas"].control(
            "link", {"table": self.name, "source_region": PRIMARY, "replica_regions": [DR]})

    def item(self, client, key=KEY):
        return client.get_item(TableName=self.name, Key=key, ConsistentRead=True).get("Item")

    def advance(self, seconds: float) -> None:
        self.cloud.clock.advance(seconds)

    def state(self) -> dict:
        return self.cloud.sim.status()["behaviours"]["dynamodb_replicas"]["tables"].get(self.name)


@pytest.fixture
def tables(cloud_factory, bucket_name) -> Tables:
    cloud = cloud_factory(SimSettings(dynamodb_lag_seconds=10))
    return Tables(cloud, bucket_name("index"))


def test_item_written_in_primary_appears_in_dr_only_after_the_lag(tables):
    tables.link()
    item = {**KEY, "modality": {"S": "CT"}}
    tables.primary.put_item(TableName=tables.name, Item=item)
    tables.advance(4.9)
    assert tables.item(tables.dr) is None
    assert tables.state()["pendingWrites"] == 1
    tables.advance(10.2)
    assert tables.item(tables.dr) == item
    state = tables.state()
    assert state["pendingWrites"] == 0 and state["delivered"] == 1
    assert 5 <= state["maxLagSeconds"] <= 15 and state["label"] == "simulated"


def test_delete_propagates(tables):
    tables.link()
    tables.primary.put_item(TableName=tables.name, Item=KEY)
    tables.advance(16)
    tables.primary.delete_item(TableName=tables.name, Key=KEY)
    assert tables.item(tables.dr) is not None
    tables.advance(16)
    assert tables.item(tables.dr) is None


def test_update_propagates_the_whole_resulting_item(tables):
    tables.link()
    tables.primary.put_item(TableName=tables.name, Item={**KEY, "count": {"N": "1"}})
    tables.advance(16)
    tables.primary.update_item(TableName=tables.name, Key=KEY, UpdateExpression="SET #c = #c + :one, verified = :t",
                               ExpressionAttributeNames={"#c": "count"},
                               ExpressionAttributeValues={":one": {"N": "1"}, ":t": {"BOOL": True}})
    tables.advance(16)
    assert tables.item(tables.dr) == {**KEY, "count": {"N": "2"}, "verified": {"BOOL": True}}


def test_batch_and_transactional_writes_propagate(tables):
    tables.link()
    other = {"pk": {"S": "study-2"}, "sk": {"S": "instance-1"}}
    tables.primary.batch_write_item(RequestItems={tables.name: [{"PutRequest": {"Item": KEY}},
                                                                {"PutRequest": {"Item": other}}]})
    tables.advance(16)
    tables.primary.transact_write_items(TransactItems=[
        {"Delete": {"TableName": tables.name, "Key": other}},
        {"Update": {"TableName": tables.name, "Key": KEY, "UpdateExpression": "SET s = :s",
                    "ExpressionAttributeValues": {":s": {"S": "ok"}}}},
    ])
    tables.advance(16)
    assert tables.item(tables.dr, other) is None
    assert tables.item(tables.dr) == {**KEY, "s": {"S": "ok"}}


def test_outage_holds_writes_then_delivers_them(tables):
    tables.link()
    outage = tables.cloud.sim["outage"]
    outage.control("down", {"region": DR})
    tables.primary.put_item(TableName=tables.name, Item={**KEY, "v": {"N": "1"}})
    tables.primary.put_item(TableName=tables.name, Item={**KEY, "v": {"N": "2"}})
    tables.advance(30 * 60)
    state = tables.state()
    assert state["pendingWrites"] == 2 and state["heldWrites"] == 2
    outage.control("up", {"region": DR})
    tables.advance(60)
    assert tables.item(tables.dr) == {**KEY, "v": {"N": "2"}}       # the newer write wins
    assert tables.state()["pendingWrites"] == 0


def test_dr_writes_flow_back_and_last_writer_wins(tables):
    tables.link()
    tables.primary.put_item(TableName=tables.name, Item={**KEY, "v": {"S": "primary"}})
    tables.dr.put_item(TableName=tables.name, Item={**KEY, "v": {"S": "dr-later"}})
    tables.advance(16)
    assert tables.item(tables.primary) == tables.item(tables.dr) == {**KEY, "v": {"S": "dr-later"}}
    assert tables.state()["superseded"] == 1


def test_tables_that_are_not_linked_are_untouched(tables):
    tables.primary.put_item(TableName=tables.name, Item=KEY)
    tables.advance(3600)
    assert tables.item(tables.dr) is None
    assert tables.state() is None
    assert "Replicas" not in tables.primary.describe_table(TableName=tables.name)["Table"]


def test_replica_updates_link_the_table_and_describe_table_shows_replicas(tables):
    tables.primary.update_table(TableName=tables.name, ReplicaUpdates=[{"Create": {"RegionName": DR}}])
    described = tables.primary.describe_table(TableName=tables.name)["Table"]
    assert described["Replicas"] == [{"RegionName": DR, "ReplicaStatus": "ACTIVE"}]
    assert tables.dr.describe_table(TableName=tables.name)["Table"]["Replicas"][0]["RegionName"] == PRIMARY
    tables.primary.put_item(TableName=tables.name, Item=KEY)
    tables.advance(16)
    assert tables.item(tables.dr) == KEY
    tables.primary.update_table(TableName=tables.name, ReplicaUpdates=[{"Delete": {"RegionName": DR}}])
    tables.primary.delete_item(TableName=tables.name, Key=KEY)
    tables.advance(16)
    assert tables.item(tables.dr) == KEY


def test_missing_replica_table_holds_writes_until_it_exists(cloud_factory, bucket_name):
    cloud = cloud_factory(SimSettings(dynamodb_lag_seconds=10))
    name = bucket_name("index")
    primary, dr = cloud.target.client("dynamodb", PRIMARY), cloud.target.client("dynamodb", DR)
    create_table(primary, name)
    result = cloud.sim["dynamodb_replicas"].control(
        "link", {"table": name, "source_region": PRIMARY, "replica_regions": [DR]})
    assert result["missingTables"] == [DR]
    primary.put_item(TableName=name, Item=KEY)
    cloud.clock.advance(60)
    create_table(dr, name)
    cloud.clock.advance(60)
    assert dr.get_item(TableName=name, Key=KEY)["Item"] == KEY


def test_bad_link_requests_are_refused(tables):
    for params, needle in (
        ({"source_region": PRIMARY, "replica_regions": [DR]}, "'table'"),
        ({"table": tables.name, "source_region": "mars-1", "replica_regions": [DR]}, "'source_region'"),
        ({"table": tables.name, "source_region": PRIMARY, "replica_regions": DR}, "'replica_regions'"),
        ({"table": "no-such-table", "source_region": PRIMARY, "replica_regions": [DR]}, "does not exist"),
    ):
        with pytest.raises(ValueError, match=needle):
            tables.cloud.sim["dynamodb_replicas"].control("link", params)
    assert tables.state() is None


def test_failed_writes_are_not_propagated(tables):
    tables.link()
    tables.primary.put_item(TableName=tables.name, Item={**KEY, "v": {"N": "1"}})
    with pytest.raises(ClientError) as err:
        tables.primary.put_item(TableName=tables.name, Item={**KEY, "v": {"N": "2"}},
                                ConditionExpression="attribute_not_exists(pk)")
    assert err.value.response["Error"]["Code"] == "ConditionalCheckFailedException"
    tables.advance(16)
    assert tables.item(tables.dr) == {**KEY, "v": {"N": "1"}}
