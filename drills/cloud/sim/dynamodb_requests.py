"""DynamoDB request limits and idempotency that moto 5.2 does not enforce.

- BatchWriteItem takes at most 25 put/delete requests in all (API_BatchWriteItem: "The
  individual PutItem and DeleteItem operations specified in BatchWriteItem ... up to 25
  item put or delete operations"); more is a ValidationException and nothing is written.
  TransactWriteItems takes at most 100 actions (API_TransactWriteItems).
- TransactWriteItems with a ``ClientRequestToken`` is idempotent for 10 minutes
  (API_TransactWriteItems, ClientRequestToken): the same token with the same parameters
  within the window succeeds without being applied again; with different parameters it
  is an ``IdempotentParameterMismatchException``; while the first call is still running,
  ``TransactionInProgressException``. After 10 minutes the token is new again. The window
  is measured on the virtual clock.
"""

from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta
from typing import Any

from drills.cloud.interceptors import AwsRequest, AwsResponse, Headers, Interceptor, aws_error

BATCH_WRITE_LIMIT = 25
TRANSACT_LIMIT = 100
IDEMPOTENCY_WINDOW = timedelta(minutes=10)


def _fingerprint(body: dict[str, Any]) -> str:
    return json.dumps({k: v for k, v in body.items() if k != "ClientRequestToken"}, sort_keys=True)


class DynamoDBRequestRules(Interceptor):
    name = "dynamodb_requests"

    def __init__(self, sim: Any) -> None:
        super().__init__(sim)
        self._lock = threading.Lock()
        self._tokens: dict[tuple[str, str], tuple[str, datetime, AwsResponse]] = {}
        self._running: set[tuple[str, str]] = set()
        self._mine: dict[int, tuple[str, str]] = {}
        self.replayed = 0
        self.refused = 0

    def before(self, req: AwsRequest) -> AwsResponse | None:
        if req.service != "dynamodb" or req.operation not in ("BatchWriteItem", "TransactWriteItems"):
            return None
        try:
            body = req.json()
        except ValueError:
            return None                      # moto answers the serialization error
        if req.operation == "BatchWriteItem":
            count = sum(len(v) for v in (body.get("RequestItems") or {}).values() if isinstance(v, list))
            if count > BATCH_WRITE_LIMIT:
                self.refused += 1
                return aws_error(req, 400, "ValidationException",
                                 "1 validation error detected: Value at 'requestItems' failed to satisfy "
                                 "constraint: Map value must satisfy constraint: [Member must have length less "
                                 f"than or equal to {BATCH_WRITE_LIMIT}, Member must have length greater than or "
                                 f"equal to 1] ({count} requests given)")
            return None
        actions = body.get("TransactItems") or []
        if len(actions) > TRANSACT_LIMIT:
            self.refused += 1
            return aws_error(req, 400, "ValidationException",
                             "1 validation error detected: Value at 'transactItems' failed to satisfy constraint: "
                             f"Member must have length less than or equal to {TRANSACT_LIMIT}")
        token = body.get("ClientRequestToken")
        if not token:
            return None
        key = (req.region or "", str(token))
        now = self.sim.clock.now()
        with self._lock:
            cached = self._tokens.get(key)
            if cached is not None and now - cached[1] >= IDEMPOTENCY_WINDOW:
                del self._tokens[key]
                cached = None
            if cached is not None:
                if cached[0] != _fingerprint(body):
                    return aws_error(req, 400, "IdempotentParameterMismatchException",
                                     "DynamoDB rejected the request because you retried a request with a different "
                                     "payload but with an idempotent token that was already used.")
                self.replayed += 1
                original = cached[2]
                return AwsResponse(original.status, Headers(dict(original.headers)), original.body)
            if key in self._running:
                return aws_error(req, 400, "TransactionInProgressException",
                                 "The transaction with the given request token is already in progress.")
            self._running.add(key)
            self._mine[id(req)] = key
        return None

    def after(self, req: AwsRequest, resp: AwsResponse) -> AwsResponse:
        with self._lock:
            key = self._mine.pop(id(req), None)
            if key is None:
                return resp
            self._running.discard(key)
            if resp.ok:
                self._tokens[key] = (_fingerprint(req.json()), self.sim.clock.now(),
                                     AwsResponse(resp.status, Headers(dict(resp.headers)), resp.body))
        return resp

    def status(self) -> dict[str, Any]:
        with self._lock:
            return {"tokens": len(self._tokens), "replayed": self.replayed, "refused": self.refused}

    def reset(self) -> None:
        with self._lock:
            self._tokens.clear()
            self._running.clear()
            self._mine.clear()
            self.replayed = self.refused = 0
