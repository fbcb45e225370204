"""DynamoDB transactions: atomic and isolated, as AWS documents, at the cost of their items.

AWS (API_TransactWriteItems; "Amazon DynamoDB Transactions: How it works", *Isolation levels
for DynamoDB transactions*): the actions of one TransactWriteItems "are completed atomically so
that either all of them succeed, or all of them fail", and a transaction is *serializable* with
respect to PutItem, UpdateItem, DeleteItem and BatchWriteItem (per item), to GetItem, to
TransactGetItems and to other transactions: no other write lands between its condition checks
and its writes, and no GetItem or TransactGetItems sees it half applied.

moto 5.2 falls short in two ways this behaviour corrects:

- no isolation: it checks each action's condition and applies it in one pass, with nothing
  keeping another request thread out, so two concurrent transactions that each put an item
  ``attribute_not_exists`` can both succeed;
- its rollback deep-copies every table the transaction touches before each call and, on a
  cancellation, puts those copies back — a cost that grows with the table, and any write
  another thread made meanwhile is lost (a copy taken while another thread writes can also
  fail with HTTP 500).

Here every item write of a backend (PutItem, UpdateItem, DeleteItem — BatchWriteItem is made
of them — and TransactWriteItems) holds one lock per backend, and so does a GetItem or a
TransactGetItems request for its whole answer (moto reads TransactGetItems item by item in its
request handler, and serializes the items it read after the read). A transaction first evaluates
every action's condition against the current items; if any fails, it is cancelled with
``TransactionCanceledException`` and one ``CancellationReasons`` entry per action, in order
(``ReturnValuesOnConditionCheckFailure: ALL_OLD`` returns the item), and nothing was written.
Otherwise it applies the actions, keeping a copy of each touched item only; an action that
fails while applying (a validation error moto raises only then) restores those items.
BatchGetItem, Query and Scan stay unlocked: AWS gives them read-committed isolation only
(each item they return is committed; they may see some of a transaction's items and not others).
Not emulated: ``TransactionConflict`` (nothing can interleave here), the idempotency window
of ``ClientRequestToken`` (``drills.cloud.sim.dynamodb_requests`` does that), and stream
records of a transaction rolled back while applying stay in the stream.
"""

from __future__ import annotations

import copy
import threading
import weakref
from typing import Any, Callable

_originals: dict[str, Callable[..., Any]] = {}
_locks: "weakref.WeakKeyDictionary[Any, threading.RLock]" = weakref.WeakKeyDictionary()
_locks_guard = threading.Lock()
_WRITES = ("put_item", "update_item", "delete_item")
_SERIALIZED_READS = frozenset({"GetItem", "TransactGetItems"})


def _lock(backend: Any) -> threading.RLock:
    with _locks_guard:
        lock = _locks.get(backend)
        if lock is None:
            lock = _locks[backend] = threading.RLock()
        return lock


def _locked(name: str, original: Callable[..., Any]) -> Callable[..., Any]:
    def write(self: Any, *args: Any, **kwargs: Any) -> Any:
        with _lock(self):
            return original(self, *args, **kwargs)

    write.__name__ = name
    return write


def _call_action(self: Any) -> Any:
    """moto's DynamoDB request handler; a serializable read holds the backend's lock throughout."""
    if self._get_action() in _SERIALIZED_READS:
        with _lock(self.dynamodb_backend):
            return _originals["call_action"](self)
    return _originals["call_action"](self)


def _transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
    from moto.dynamodb.exceptions import (ConditionalCheckFailed, MockValidationException,
                                          MultipleTransactionsException, TooManyTransactionsException,
                                          TransactionCanceledException, TransactWriteSingleOpException)

    if len(transact_items) > 100:
        raise TooManyTransactionsException()
    with _lock(self):
        actions: list[tuple[str, dict[str, Any], Any, Any]] = []     # (type, op, table, key values)
        seen: set[tuple[str, str]] = set()
        for entry in transact_items:
            if len(entry) > 1:
                raise TransactWriteSingleOpException
            op_type, op = next(iter(entry.items()))
            if op_type not in {"ConditionCheck", "Put", "Delete", "Update"}:
                raise MockValidationException("Unsupported transaction operation")
            table = self.get_table(op["TableName"])
            if op_type == "Put":
                attrs = op["Item"]
                key = {table.hash_key_attr: attrs.get(table.hash_key_attr)}
                if table.range_key_attr is not None:
                    key[table.range_key_attr] = attrs.get(table.range_key_attr)
            else:
                key = op["Key"]
            unique = (table.name, str(dict(sorted(key.items()))))
            if unique in seen:
                raise MultipleTransactionsException()
            seen.add(unique)
            hash_key, range_key = self.get_keys_value(table, key)
            actions.append((op_type, op, table, (hash_key, range_key)))
        # 1. every condition against the items as they are (the actions touch distinct items)
        errors: list[tuple[str | None, str | None, dict[str, Any] | None]] = []
        for op_type, op, table, (hash_key, range_key) in actions:
            condition = op.get("ConditionExpression")
            if condition is None:
                errors.append((None, None, None))
                continue
            current = table.get_item(hash_key, range_key)
            check = _filter(condition, op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues"))
            if check.expr(current):
                errors.append((None, None, None))
                continue
            old = (current.to_json()["Attributes"]
                   if current is not None and op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" else None)
            errors.append(("ConditionalCheckFailed", ConditionalCheckFailed().message, old))
        if any(code is not None for code, _, _ in errors):
            raise TransactionCanceledException(errors)
        # 2. apply, keeping the touched items to restore them should an action fail now
        before = [(table, hash_key, range_key, copy.deepcopy(table.get_item(hash_key, range_key)))
                  for _, _, table, (hash_key, range_key) in actions]
        applied = [(None, None, None)] * len(actions)
        for n, (op_type, op, table, _) in enumerate(actions):
            try:
                _apply(self, op_type, op)
            except Exception as exc:  # noqa: BLE001 - moto's validation, raised while applying
                _restore(before)
                if isinstance(exc, MockValidationException):
                    raise
                reasons = list(applied)
                reasons[n] = (type(exc).__name__, str(exc), None)
                raise TransactionCanceledException(reasons) from exc


def _filter(condition: str, names: Any, values: Any) -> Any:
    from moto.dynamodb.comparisons import get_filter_expression
    return get_filter_expression(condition, names, values)


def _apply(backend: Any, op_type: str, op: dict[str, Any]) -> None:
    names, values = op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
    if op_type == "Put":
        backend.put_item(op["TableName"], op["Item"], expression_attribute_names=names,
                         expression_attribute_values=values, overwrite=True)
    elif op_type == "Delete":
        backend.delete_item(op["TableName"], op["Key"], expression_attribute_names=names,
                            expression_attribute_values=values)
    elif op_type == "Update":
        backend.update_item(op["TableName"], op["Key"], update_expression=op["UpdateExpression"],
                            expression_attribute_names=names, expression_attribute_values=values)


def _restore(before: list[tuple[Any, Any, Any, Any]]) -> None:
    for table, hash_key, range_key, item in reversed(before):
        if item is None:
            table.delete_item(hash_key, range_key)
        elif range_key is not None:
            table.items[hash_key][range_key] = item
        else:
            table.items[hash_key] = item


def install() -> None:
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.responses import DynamoHandler

    if _originals:
        return
    _originals["call_action"] = DynamoHandler.call_action
    DynamoHandler.call_action = _call_action
    for name in _WRITES:
        _originals[name] = getattr(DynamoDBBackend, name)
        setattr(DynamoDBBackend, name, _locked(name, _originals[name]))
    _originals["transact_write_items"] = DynamoDBBackend.transact_write_items
    DynamoDBBackend.transact_write_items = _transact_write_items


def uninstall() -> None:
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.responses import DynamoHandler

    for name, original in _originals.items():
        setattr(DynamoHandler if name == "call_action" else DynamoDBBackend, name, original)
    _originals.clear()
