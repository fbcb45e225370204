"""TransactWriteItems on the embedded cloud: atomic, isolated, and a cancellation loses no
other write (drills.cloud.sim.dynamodb_transactions).

AWS: "The actions are completed atomically so that either all of them succeed, or all of
them fail"; a failed condition cancels the transaction with TransactionCanceledException,
``CancellationReasons`` one per action in order, the item with
``ReturnValuesOnConditionCheckFailure: ALL_OLD``
(https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TransactWriteItems.html);
transactions are serializable with PutItem/UpdateItem/DeleteItem/BatchWriteItem and with each
other ("Amazon DynamoDB Transactions: How it works", *Isolation levels for DynamoDB
transactions*, https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis.html).
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Iterator

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from drills.cloud.sim import dynamodb_transactions

REGION = "eu-west-1"


@pytest.fixture
def ddb(monkeypatch) -> Iterator[Any]:
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_DEFAULT_REGION": REGION}.items():
        monkeypatch.setenv(name, value)
    dynamodb_transactions.install()
    try:
        with mock_aws():
            client = boto3.client("dynamodb", region_name=REGION)
            client.create_table(TableName="t", BillingMode="PAY_PER_REQUEST",
                                KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
                                AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}])
            yield client
    finally:
        dynamodb_transactions.uninstall()


def put(key: str, value: str, *, new_only: bool = True) -> dict[str, Any]:
    action: dict[str, Any] = {"TableName": "t", "Item": {"k": {"S": key}, "v": {"S": value}}}
    if new_only:
        action.update(ConditionExpression="attribute_not_exists(k)", ReturnValuesOnConditionCheckFailure="ALL_OLD")
    return {"Put": action}


def keys(ddb: Any) -> dict[str, str]:
    return {i["k"]["S"]: i["v"]["S"] for i in ddb.scan(TableName="t", ConsistentRead=True)["Items"]}


def test_a_failed_condition_cancels_every_action_and_names_each(ddb) -> None:
    ddb.put_item(TableName="t", Item={"k": {"S": "taken"}, "v": {"S": "first"}})
    with pytest.raises(ClientError) as info:
        ddb.transact_write_items(TransactItems=[put("a", "x"), put("taken", "second"), put("b", "y", new_only=False)])
    assert info.value.response["Error"]["Code"] == "TransactionCanceledException"
    reasons = info.value.response["CancellationReasons"]
    assert [r["Code"] for r in reasons] == ["None", "ConditionalCheckFailed", "None"]
    assert reasons[1]["Item"] == {"k": {"S": "taken"}, "v": {"S": "first"}}
    assert keys(ddb) == {"taken": "first"}                       # nothing of the transaction written
    ddb.transact_write_items(TransactItems=[put("a", "x"), put("b", "y")])
    assert keys(ddb) == {"taken": "first", "a": "x", "b": "y"}


def test_concurrent_transactions_claiming_one_key_exactly_one_wins(ddb) -> None:
    """Eight writers, each claiming "uid" and creating its own item in one transaction: one
    succeeds; the others are cancelled and their own items are not written."""
    barrier = threading.Barrier(8, timeout=20)

    def claim(n: int) -> bool:
        barrier.wait()
        try:
            ddb.transact_write_items(TransactItems=[put("uid", f"writer-{n}"), put(f"own-{n}", "x")])
        except ClientError as exc:
            assert exc.response["Error"]["Code"] == "TransactionCanceledException"
            return False
        return True

    for _ in range(3):
        for key in keys(ddb):
            ddb.delete_item(TableName="t", Key={"k": {"S": key}})
        with ThreadPoolExecutor(8) as pool:
            won = list(pool.map(claim, range(8)))
        assert won.count(True) == 1
        winner = won.index(True)
        assert keys(ddb) == {"uid": f"writer-{winner}", f"own-{winner}": "x"}


def test_a_cancelled_transaction_loses_no_concurrent_write(ddb) -> None:
    """moto restores a whole-table copy on a cancellation, dropping what other requests wrote
    meanwhile; here every PutItem written beside cancelled transactions stays."""
    ddb.put_item(TableName="t", Item={"k": {"S": "taken"}, "v": {"S": "first"}})
    stop = threading.Event()

    def cancelled() -> int:
        n = 0
        while not stop.is_set():
            with pytest.raises(ClientError):
                ddb.transact_write_items(TransactItems=[put(f"tx-{n}", "x"), put("taken", "again")])
            n += 1
        return n

    with ThreadPoolExecutor(3) as pool:
        runs = [pool.submit(cancelled) for _ in range(2)]
        for n in range(150):
            ddb.put_item(TableName="t", Item={"k": {"S": f"p-{n}"}, "v": {"S": "x"}})
        stop.set()
        assert all(r.result() > 0 for r in runs)
    assert {k for k in keys(ddb) if k.startswith("p-")} == {f"p-{n}" for n in range(150)}
    assert not any(k.startswith("tx-") for k in keys(ddb))


@pytest.fixture
def halfway(monkeypatch) -> threading.Event:
    """Pause the first transaction that writes item "a" right after that write (0.3 s) and
    signal it, so that a read can be sent while the transaction is half applied."""
    reached = threading.Event()
    original = dynamodb_transactions._apply

    def slow(backend: Any, op_type: str, op: dict[str, Any]) -> None:
        original(backend, op_type, op)
        if op.get("Item", {}).get("k") == {"S": "a"} and not reached.is_set():
            reached.set()
            threading.Event().wait(0.3)

    monkeypatch.setattr(dynamodb_transactions, "_apply", slow)
    return reached


def _write_both(ddb: Any, value: str) -> None:
    ddb.transact_write_items(TransactItems=[put("a", value, new_only=False), put("b", value, new_only=False)])


def test_transact_get_items_never_sees_a_half_applied_transaction(ddb, halfway) -> None:
    """TransactWriteItems and TransactGetItems are serializable with each other ("Amazon DynamoDB
    Transactions: How it works", *Isolation levels for DynamoDB transactions*,
    https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis.html#transaction-isolation):
    a TransactGetItems sent while a transaction is being applied answers all of its writes or none."""
    for key in ("a", "b"):
        ddb.put_item(TableName="t", Item={"k": {"S": key}, "v": {"S": "old"}})
    with ThreadPoolExecutor(1) as pool:
        writing = pool.submit(_write_both, ddb, "new")
        assert halfway.wait(10)
        got = ddb.transact_get_items(TransactItems=[{"Get": {"TableName": "t", "Key": {"k": {"S": k}}}}
                                                    for k in ("a", "b")])["Responses"]
        writing.result()
    values = [r["Item"]["v"]["S"] for r in got]
    assert values in (["old", "old"], ["new", "new"]), values


def test_get_item_is_serializable_with_a_transaction(ddb, halfway) -> None:
    """GetItem and TransactWriteItems are serializable (transaction-apis.html#transaction-isolation,
    cited above): once a GetItem has seen one write of a transaction, a later GetItem sees the rest."""
    for key in ("a", "b"):
        ddb.put_item(TableName="t", Item={"k": {"S": key}, "v": {"S": "old"}})
    with ThreadPoolExecutor(1) as pool:
        writing = pool.submit(_write_both, ddb, "new")
        assert halfway.wait(10)
        first = ddb.get_item(TableName="t", Key={"k": {"S": "a"}})["Item"]["v"]["S"]
        second = ddb.get_item(TableName="t", Key={"k": {"S": "b"}})["Item"]["v"]["S"]
        writing.result()
    assert (first, second) in (("old", "old"), ("old", "new"), ("new", "new")), (first, second)
