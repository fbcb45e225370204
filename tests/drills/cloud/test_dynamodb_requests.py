"""DynamoDB request limits and TransactWriteItems idempotency (drills.cloud.sim.dynamodb_requests)."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError


@pytest.fixture
def ddb(client):
    return client("dynamodb", "us-east-1")


@pytest.fixture
def table(ddb):
    ddb.create_table(TableName="idx", BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}])
    ddb.put_item(TableName="idx", Item={"pk": {"S": "counter"}, "n": {"N": "0"}})
    return "idx"


def _increment(token: str, by: int = 1) -> dict:
    return {"TransactItems": [{"Update": {"TableName": "idx", "Key": {"pk": {"S": "counter"}},
                                          "UpdateExpression": "ADD n :one",
                                          "ExpressionAttributeValues": {":one": {"N": str(by)}}}}],
            "ClientRequestToken": token}


def _count(ddb) -> int:
    return int(ddb.get_item(TableName="idx", Key={"pk": {"S": "counter"}})["Item"]["n"]["N"])


def test_repeated_client_request_token_is_applied_once_within_ten_minutes(cloud, ddb, table):
    """A TransactWriteItems call repeated with the same ClientRequestToken within 10 minutes
    succeeds without being applied again; after the window it is a new request.
    https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TransactWriteItems.html#DDB-TransactWriteItems-request-ClientRequestToken"""
    ddb.transact_write_items(**_increment("tok-1"))
    ddb.transact_write_items(**_increment("tok-1"))
    cloud.clock.advance(9 * 60)
    ddb.transact_write_items(**_increment("tok-1"))
    assert _count(ddb) == 1
    cloud.clock.advance(2 * 60)
    ddb.transact_write_items(**_increment("tok-1"))
    assert _count(ddb) == 2


def test_same_token_different_parameters_is_a_mismatch(ddb, table):
    """Same token, other parameters, within the window: IdempotentParameterMismatchException."""
    ddb.transact_write_items(**_increment("tok-2"))
    with pytest.raises(ClientError) as err:
        ddb.transact_write_items(**_increment("tok-2", by=5))
    assert err.value.response["Error"]["Code"] == "IdempotentParameterMismatchException"
    assert _count(ddb) == 1


def test_batch_write_item_over_25_requests_is_refused(ddb, table):
    """BatchWriteItem takes up to 25 put or delete requests; more is a ValidationException
    and nothing is written. https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_BatchWriteItem.html"""
    requests = [{"PutRequest": {"Item": {"pk": {"S": f"k{i}"}}}} for i in range(26)]
    with pytest.raises(ClientError) as err:
        ddb.batch_write_item(RequestItems={"idx": requests})
    assert err.value.response["Error"]["Code"] == "ValidationException"
    assert ddb.scan(TableName="idx", Select="COUNT")["Count"] == 1
    ddb.batch_write_item(RequestItems={"idx": requests[:25]})
    assert ddb.scan(TableName="idx", Select="COUNT")["Count"] == 26
