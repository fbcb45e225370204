"""The items one DynamoDB request acts on, each with the item-level operation it performs.

One walker for every behaviour that needs a request's items: ``dynamodb_pitr`` (which items a
write changed) and ``identity_policies`` (which action on which table each item is authorized
as). Per the DynamoDB developer guide:

- ``TransactWriteItems``: ``Put`` / ``Update`` / ``Delete`` are the ``PutItem`` / ``UpdateItem`` /
  ``DeleteItem`` operations and ``ConditionCheck`` is ``ConditionCheckItem``; ``TransactGetItems``'
  ``Get`` is ``GetItem`` ("Using IAM with DynamoDB transactions",
  https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis-iam.html);
- ``BatchWriteItem``'s ``PutRequest`` / ``DeleteRequest`` put or delete one item each, and
  ``BatchGetItem`` gets each ``Keys`` entry, in the table they are listed under.

The key of a ``Put`` is its whole ``Item`` (the table's key attributes are in it).
"""

from __future__ import annotations

from typing import Any, Iterator, NamedTuple

WRITES = frozenset({"PutItem", "UpdateItem", "DeleteItem"})
_TRANSACT = {"Put": ("PutItem", "Item"), "Update": ("UpdateItem", "Key"), "Delete": ("DeleteItem", "Key"),
             "ConditionCheck": ("ConditionCheckItem", "Key"), "Get": ("GetItem", "Key")}
_BATCH_WRITE = {"PutRequest": ("PutItem", "Item"), "DeleteRequest": ("DeleteItem", "Key")}


class ItemAction(NamedTuple):
    """One item of a request: the item-level operation, the table (name or ARN) and the key."""

    operation: str              # PutItem, UpdateItem, DeleteItem, ConditionCheckItem, GetItem
    table: str
    key: dict[str, Any]         # the item's attributes (Put) or its key


def item_actions(operation: str | None, body: dict[str, Any]) -> Iterator[ItemAction]:
    """Every item ``operation`` with request ``body`` acts on, in request order (malformed
    entries, which DynamoDB refuses with a validation error, are skipped)."""
    if operation in ("PutItem", "GetItem", "UpdateItem", "DeleteItem"):
        if isinstance(body.get("TableName"), str):
            yield ItemAction(operation, body["TableName"],
                             _mapping(body.get("Item" if operation == "PutItem" else "Key")))
    elif operation in ("TransactWriteItems", "TransactGetItems"):
        entries = body.get("TransactItems")
        for entry in entries if isinstance(entries, list) else []:
            for kind, op in (entry.items() if isinstance(entry, dict) else ()):
                if kind in _TRANSACT and isinstance(op, dict) and isinstance(op.get("TableName"), str):
                    name, field = _TRANSACT[kind]
                    yield ItemAction(name, op["TableName"], _mapping(op.get(field)))
    elif operation == "BatchWriteItem":
        for table, requests in _tables(body):
            for request in requests if isinstance(requests, list) else []:
                for kind, op in (request.items() if isinstance(request, dict) else ()):
                    if kind in _BATCH_WRITE and isinstance(op, dict):
                        name, field = _BATCH_WRITE[kind]
                        yield ItemAction(name, table, _mapping(op.get(field)))
    elif operation == "BatchGetItem":
        for table, spec in _tables(body):
            keys = spec.get("Keys") if isinstance(spec, dict) else None
            for key in keys if isinstance(keys, list) else []:
                yield ItemAction("GetItem", table, _mapping(key))


def _tables(body: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    items = body.get("RequestItems")
    yield from (items.items() if isinstance(items, dict) else ())


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
