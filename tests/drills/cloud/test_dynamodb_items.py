"""The items a DynamoDB request acts on, each as its item-level operation (drills.cloud.sim.dynamodb_items).

AWS: a transaction's Put/Update/Delete/Get are the PutItem/UpdateItem/DeleteItem/GetItem
operations and ConditionCheck is ConditionCheckItem ("Using IAM with DynamoDB transactions",
https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis-iam.html);
BatchWriteItem's PutRequest/DeleteRequest and BatchGetItem's Keys act on the table they are listed
under (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_BatchWriteItem.html).
"""

from __future__ import annotations

from drills.cloud.sim.dynamodb_items import ItemAction, item_actions

A, B = {"k": {"S": "a"}}, {"k": {"S": "b"}}


def test_transact_write_items_names_each_item_operation_in_order() -> None:
    body = {"TransactItems": [{"Put": {"TableName": "t", "Item": {**A, "v": {"S": "x"}}}},
                              {"Update": {"TableName": "u", "Key": B, "UpdateExpression": "SET v = :v"}},
                              {"Delete": {"TableName": "t", "Key": B}},
                              {"ConditionCheck": {"TableName": "u", "Key": A, "ConditionExpression": "x"}}]}
    assert list(item_actions("TransactWriteItems", body)) == [
        ItemAction("PutItem", "t", {**A, "v": {"S": "x"}}), ItemAction("UpdateItem", "u", B),
        ItemAction("DeleteItem", "t", B), ItemAction("ConditionCheckItem", "u", A)]


def test_gets_batches_and_single_item_operations() -> None:
    assert list(item_actions("TransactGetItems", {"TransactItems": [{"Get": {"TableName": "t", "Key": A}}]})) == [
        ItemAction("GetItem", "t", A)]
    batch = {"RequestItems": {"t": [{"PutRequest": {"Item": A}}, {"DeleteRequest": {"Key": B}}]}}
    assert list(item_actions("BatchWriteItem", batch)) == [ItemAction("PutItem", "t", A),
                                                           ItemAction("DeleteItem", "t", B)]
    assert list(item_actions("BatchGetItem", {"RequestItems": {"u": {"Keys": [A, B]}}})) == [
        ItemAction("GetItem", "u", A), ItemAction("GetItem", "u", B)]
    assert list(item_actions("DeleteItem", {"TableName": "t", "Key": A})) == [ItemAction("DeleteItem", "t", A)]
    assert list(item_actions("Scan", {"TableName": "t"})) == []


def test_malformed_entries_are_skipped() -> None:
    """DynamoDB refuses these with a validation error; the walker does not crash on them."""
    assert list(item_actions("TransactWriteItems", {"TransactItems": "x"})) == []
    assert list(item_actions("TransactWriteItems", {"TransactItems": [{"Put": {"Item": A}}, "x"]})) == []
    assert list(item_actions("BatchWriteItem", {"RequestItems": {"t": "x"}})) == []
